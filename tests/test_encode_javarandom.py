"""java.util.Random and the reservoir, checked against values printed by a real JVM (OpenJDK 17).

The expected numbers below came from running ``new java.util.Random(47382911L)`` and GATK's
reservoir algorithm in Java; they are not produced by the code under test.
"""

from cnnscore.encode.javarandom import GATK_RANDOM_SEED, JavaRandom, reservoir_sample


def test_next_int_matches_java_for_mixed_bounds():
    rng = JavaRandom(GATK_RANDOM_SEED)
    bounds = [129, 130, 131, 200, 256, 1000, 7, 1 << 20, 2147483647, 3]
    assert [rng.next_int(b) for b in bounds] == [114, 25, 128, 53, 161, 271, 0, 909694, 99962847, 2]


def test_next_int_stream_matches_java():
    rng = JavaRandom(GATK_RANDOM_SEED)
    assert [rng.next_int(k) for k in range(129, 161)] == [
        114,
        25,
        128,
        65,
        80,
        43,
        12,
        82,
        112,
        122,
        65,
        94,
        7,
        49,
        65,
        72,
        139,
        93,
        99,
        127,
        140,
        74,
        100,
        120,
        80,
        116,
        83,
        50,
        45,
        24,
        8,
        109,
    ]


def test_next_bits_32_is_signed_like_java():
    rng = JavaRandom(42)
    assert (rng.next_bits(32), rng.next_bits(32)) == (-1170105035, 234785527)


def _replaced(sample):
    return {slot: item for slot, item in enumerate(sample) if item != slot}


def test_reservoir_shares_one_stream_across_variants_like_gatk():
    """Three sites (200, 150 then 10 reads, then 140) drawn from one generator, as GATK does."""
    rng = JavaRandom(GATK_RANDOM_SEED)
    first = reservoir_sample(range(200), 128, rng)
    second = reservoir_sample(range(150), 128, rng)
    third = reservoir_sample(range(10), 128, rng)
    fourth = reservoir_sample(range(140), 128, rng)
    assert len(first) == len(second) == len(fourth) == 128
    assert third == list(range(10))  # under the limit: every read, in order, no draw
    assert _replaced(first) == {
        1: 181,
        3: 167,
        4: 183,
        6: 174,
        7: 140,
        8: 158,
        12: 134,
        24: 157,
        25: 129,
        29: 184,
        33: 188,
        34: 198,
        35: 187,
        36: 162,
        40: 195,
        41: 161,
        43: 133,
        45: 160,
        48: 179,
        49: 141,
        50: 155,
        53: 180,
        58: 168,
        59: 192,
        60: 169,
        63: 165,
        64: 197,
        65: 142,
        66: 185,
        72: 143,
        74: 149,
        75: 199,
        78: 170,
        80: 152,
        82: 135,
        83: 154,
        89: 189,
        91: 194,
        93: 145,
        94: 164,
        99: 146,
        100: 150,
        109: 159,
        111: 178,
        112: 136,
        113: 191,
        114: 128,
        116: 153,
        117: 163,
        119: 166,
        120: 151,
        122: 171,
        123: 177,
        127: 147,
    }
    assert _replaced(second) == {
        0: 135,
        8: 143,
        17: 130,
        18: 132,
        19: 137,
        24: 138,
        26: 136,
        29: 146,
        31: 149,
        32: 145,
        34: 131,
        38: 144,
        52: 140,
        53: 141,
        60: 129,
        81: 139,
        90: 148,
        99: 128,
        107: 142,
        110: 147,
        126: 133,
    }
    assert _replaced(fourth) == {
        66: 133,
        69: 138,
        74: 130,
        85: 135,
        97: 132,
        103: 136,
        109: 129,
        114: 134,
        122: 128,
    }
