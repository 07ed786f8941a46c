# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The 2D read tensor in compiled code, reading pysam's records (htslib's ``bam1_t``) directly.

The same steps as :mod:`cnnscore.encode.reads` (GATK's read filters, the multi-file merge in
htsjdk's coordinate order, the ``java.util.Random`` reservoir) and :mod:`cnnscore.encode.read_tensor`
(insertion map, row sort, GATK's pad order, p-hot qualities, flags, reference channels), with the
same results byte for byte; the Python modules stay the reference (``--encoder python``) and the
tests compare the two. What changes is only how the row strings are built: pads are all the same
symbol, so a row is written in one pass from how many pads land before each read position (see
``_row``), instead of by repeated string splicing.

Building the tensor from the selected reads runs without the GIL (``with nogil`` in
:func:`read_tensor`): it is most of a variant's encoding, and the encoder thread runs beside the
scoring thread, which needs the GIL to start every inference request; holding it through both
would cap one process on many cores at what one core can do of the two together.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, qsort
from libc.string cimport memcpy, memset, strcmp

import numpy as np

from pysam.libcalignedsegment cimport AlignedSegment, makeAlignedSegment
from pysam.libcalignmentfile cimport IteratorRowRegion
from pysam.libchtslib cimport (
    bam1_t,
    bam_get_aux,
    bam_get_cigar,
    bam_get_l_aux,
    bam_get_qname,
    bam_get_qual,
    bam_get_seq,
    bam_seqi,
)

cdef extern from *:
    """
    #ifndef CNNSCORE_PYSAM_VERSION
    #define CNNSCORE_PYSAM_VERSION "unknown"
    #endif
    """
    const char *CNNSCORE_PYSAM_VERSION

#: The pysam this module was compiled against: its records' layout must be the one loaded.
BUILT_WITH_PYSAM = CNNSCORE_PYSAM_VERSION.decode()

cdef enum:
    MAX_PADS = 256  # distinct pad keys kept per map (a read's: those within its row); more: Python

cdef uint64_t _MULTIPLIER = 0x5DEECE66D
cdef uint64_t _ADDEND = 0xB
cdef uint64_t _MASK = (<uint64_t>1 << 48) - 1
cdef uint8_t SKIP = 126  # '~'
cdef uint8_t PAD = 42  # '*'
cdef const char *_SEQ_CODES = b"=ACMGRSVTWYHKDBN"
cdef const char *_CIGAR_LETTERS = b"MIDNSHP=XB"
# GATK's start of an unmapped read (its reads' getUnclippedStart), placed or not: see reads.py
cdef int64_t UNSET_POSITION = 0
cdef uint32_t FLAG_PAIRED = 1, FLAG_UNMAPPED = 4, FLAG_REVERSE = 16, FLAG_MATE_REVERSE = 32
cdef uint32_t FLAG_READ1 = 64


class TooManyPads(Exception):
    """A pileup with more distinct insertion keys than the compiled encoder holds."""


# ------------------------------------------------------------------------------------------------
# java.util.Random

cdef inline int32_t _next_bits(uint64_t *seed, int bits) noexcept:
    seed[0] = (seed[0] * _MULTIPLIER + _ADDEND) & _MASK
    return <int32_t>(<int64_t>(seed[0] >> (48 - bits)))


cdef int32_t _next_int(uint64_t *seed, int32_t bound) noexcept:
    cdef int32_t bits, value
    if (bound & (bound - 1)) == 0:
        return <int32_t>((<int64_t>bound * _next_bits(seed, 31)) >> 31)
    while True:
        bits = _next_bits(seed, 31)
        value = bits % bound
        if <int64_t>bits - value + (bound - 1) < (<int64_t>1 << 31):
            return value


# ------------------------------------------------------------------------------------------------
# read filters and order

cdef bint _read_group(bam1_t *b, uint8_t *kind_out, const char **value) noexcept:
    """Whether the read has an RG tag (of any type, as pysam's has_tag), with its type and, for
    RG:Z, its text; found by walking the aux fields, so no htslib function is called."""
    cdef uint8_t *aux = <uint8_t *>bam_get_aux(b)
    cdef uint8_t *end = aux + bam_get_l_aux(b)
    cdef uint8_t kind
    cdef int size
    cdef uint32_t count
    while aux + 3 <= end:
        kind = aux[2]
        if aux[0] == b'R' and aux[1] == b'G':
            kind_out[0] = kind
            value[0] = <const char *>(aux + 3)
            return True
        aux += 3
        if kind == b'A' or kind == b'c' or kind == b'C':
            aux += 1
        elif kind == b's' or kind == b'S':
            aux += 2
        elif kind == b'i' or kind == b'I' or kind == b'f':
            aux += 4
        elif kind == b'd':
            aux += 8
        elif kind == b'Z' or kind == b'H':
            while aux < end and aux[0] != 0:
                aux += 1
            aux += 1
        elif kind == b'B':
            if aux + 5 > end:
                return False
            kind = aux[0]
            count = (<uint32_t>aux[1]) | (<uint32_t>aux[2] << 8) | (<uint32_t>aux[3] << 16) | (
                <uint32_t>aux[4] << 24)
            size = 1 if kind in (b'c', b'C') else 2 if kind in (b's', b'S') else 4
            aux += 5 + <int64_t>count * size
        else:
            return False
    return False


cdef inline bint _passes_cigar(bam1_t *b) noexcept:
    """WellformedReadFilter's CIGAR part: no N (unmapped reads too), and the query-consuming
    length is the read's (unmapped reads pass that one)."""
    cdef uint32_t *cigar = bam_get_cigar(b)
    cdef int64_t consumed = 0
    cdef uint32_t i, op
    for i in range(b.core.n_cigar):
        op = cigar[i] & 0xf
        if op == 3:
            return False
        if op == 0 or op == 1 or op == 4 or op == 7 or op == 8:
            consumed += cigar[i] >> 4
    return (b.core.flag & FLAG_UNMAPPED) != 0 or consumed == b.core.l_qseq


cdef inline bint _htsjdk_ends_before(bam1_t *b, int64_t start) noexcept:
    """A mapped read covering no reference base (all soft clip or insertion) that starts at or
    before ``start`` (1-based): htslib's region test counts it as covering its first position
    (_end_position), htsjdk's ends it a base before, so GATK's query skips it (reads.py says
    more)."""
    cdef uint32_t *cigar = bam_get_cigar(b)
    cdef uint32_t i, op
    if b.core.flag & FLAG_UNMAPPED or b.core.pos + 1 > start:
        return False
    for i in range(b.core.n_cigar):
        op = cigar[i] & 0xf
        if (op == 0 or op == 2 or op == 3 or op == 7 or op == 8) and cigar[i] >> 4:
            return False
    return True


cdef int _compare_coordinates(bam1_t *a, bam1_t *b) noexcept:
    """htsjdk's SAMRecordCoordinateComparator key, as cnnscore.encode.reads._coordinate_key."""
    cdef int c
    if a.core.pos != b.core.pos:
        return -1 if a.core.pos < b.core.pos else 1
    c = (<int>((a.core.flag & FLAG_REVERSE) != 0)) - (<int>((b.core.flag & FLAG_REVERSE) != 0))
    if c:
        return c
    c = strcmp(bam_get_qname(a), bam_get_qname(b))
    if c:
        return -1 if c < 0 else 1
    if a.core.flag != b.core.flag:
        return -1 if a.core.flag < b.core.flag else 1
    if a.core.qual != b.core.qual:
        return -1 if a.core.qual < b.core.qual else 1
    if a.core.mtid != b.core.mtid:
        return -1 if a.core.mtid < b.core.mtid else 1
    if a.core.mpos != b.core.mpos:
        return -1 if a.core.mpos < b.core.mpos else 1
    if a.core.isize != b.core.isize:
        return -1 if a.core.isize < b.core.isize else 1
    return 0


cdef int64_t _end_position(bam1_t *b) noexcept:
    """htslib's bam_endpos: the reference end a region query tests against (at least pos + 1)."""
    cdef uint32_t *cigar = bam_get_cigar(b)
    cdef int64_t span = 0
    cdef uint32_t i, op
    if not (b.core.flag & FLAG_UNMAPPED):
        for i in range(b.core.n_cigar):
            op = cigar[i] & 0xf
            if op == 0 or op == 2 or op == 3 or op == 7 or op == 8:
                span += cigar[i] >> 4
    return b.core.pos + (span if span > 0 else 1)


cdef class _FileCursor:
    """One file read forward once across a run of sorted variants, instead of one index query
    (and one BGZF block decompression) per variant. For each variant it returns exactly what
    ``fetch(contig, start - 1, end)`` returns: the reads with pos < end and bam_endpos > start - 1,
    in file order (htslib's region test). Records are read in C (pysam's ``cnext``); only those
    that reach this region become AlignedSegments. A read that started before an earlier
    variant's region and overlaps a later one overlaps the earlier one too, so nothing is missed.
    Going back, changing contig, passing the queried region's end or a gap of more than ``JUMP``
    bases starts a new index query; a region longer than ``JUMP`` is streamed by a query of its
    own (:meth:`streamed`), after which the cursor starts afresh.
    """

    cdef object handle
    cdef IteratorRowRegion iterator
    cdef bint has_pending  # iterator.b holds a record not consumed yet (pos >= the last end)
    cdef str contig
    cdef int64_t begin  # the last region start (0-based)
    cdef int64_t stop  # the end of the region the iterator was opened for
    cdef list reads  # reads that may still overlap a later variant, in file order
    cdef list ends

    def __init__(self, handle):
        self.handle = handle
        self.iterator = None
        self.contig = None
        self.reads = []
        self.ends = []

    cdef bint _advance(self) except -1:
        """Read the next record into iterator.b; False at the end of the region. pysam's cnext
        leaves htslib's status in ``retval`` (its return value is not it in every version)."""
        self.iterator.cnext()
        cdef int status = self.iterator.retval
        if status >= 0:
            return True
        if status == -1:
            return False
        raise OSError("truncated file" if status == -2 else f"error {status} while reading file")

    cdef object streamed(self, str contig, int64_t begin, int64_t end):
        """The reads of a long region (a structural variant's span, to its END) streamed by an
        index query of their own, none kept: through the cursor every read of the span was kept
        until the variants passed its end, and each variant inside it rescanned them all (a
        10 Mb <DEL> made the calls after it 27x slower to encode and took 1.2 GB more). The
        cursor starts afresh at the next variant, as its iterator shares this file."""
        self.iterator = None
        self.reads = []
        self.ends = []
        self.has_pending = False
        return self.handle.fetch(contig, begin, end)

    cdef list overlapping(self, str contig, int64_t begin, int64_t end):
        cdef bam1_t *b
        cdef int64_t stop
        cdef int i, keep = 0
        cdef list found = []
        if (self.iterator is None or contig != self.contig or begin < self.begin
                or end > self.stop
                or (self.has_pending and self.iterator.b.core.pos + JUMP < begin)):
            # bounded: an open-ended query makes htslib walk every bin to the contig's end
            self.stop = max(end, begin + LOOKAHEAD)
            self.iterator = <IteratorRowRegion?>self.handle.fetch(contig, begin, self.stop)
            self.contig = contig
            self.reads = []
            self.ends = []
            self.has_pending = self._advance()
        self.begin = begin
        for i in range(len(self.reads)):  # drop what ends before this region: no later one needs it
            if <int64_t>self.ends[i] > begin:
                self.reads[keep] = self.reads[i]
                self.ends[keep] = self.ends[i]
                keep += 1
        del self.reads[keep:]
        del self.ends[keep:]
        while self.has_pending:
            b = self.iterator.b
            if b.core.pos >= end:
                break
            stop = _end_position(b)
            if stop > begin:
                self.reads.append(makeAlignedSegment(b, self.iterator.header))
                self.ends.append(stop)
            self.has_pending = self._advance()
        for i in range(len(self.reads)):
            if (<AlignedSegment>self.reads[i])._delegate.core.pos < end:
                found.append(self.reads[i])
        return found


cdef enum:
    JUMP = 20000  # bases of records to read through rather than start a new index query
    LOOKAHEAD = 100000  # bases each index query covers


cdef class ReadSelector:
    """GATK's read filters and reservoir over one or more open pysam files, for one variant at a
    time; the files are opened (and checked) by :class:`cnnscore.encode.reads.ReadSource`."""

    cdef list files
    cdef list cursors
    cdef public bint warned_no_read_group
    cdef public object first_without_read_group
    cdef bint drop_artificial_rg, drop_artificial  # declared in a header: see reads.py

    def __init__(self, files, blacklisted_read_groups):
        """``blacklisted_read_groups``: those a header declares (ReadSource works them out)."""
        self.files = list(files)
        self.cursors = [_FileCursor(f) for f in self.files]
        self.warned_no_read_group = False
        self.first_without_read_group = None
        self.drop_artificial_rg = "ArtificialHaplotypeRG" in blacklisted_read_groups
        self.drop_artificial = "ArtificialHaplotype" in blacklisted_read_groups

    cdef bint _keep(self, AlignedSegment read):
        cdef bam1_t *b = read._delegate
        cdef const char *group = NULL
        cdef uint8_t kind = 0
        if not _read_group(b, &kind, &group):
            if not self.warned_no_read_group:
                self.warned_no_read_group = True
                self.first_without_read_group = read.query_name
            return False
        if kind == b'Z' and (
            (self.drop_artificial_rg and strcmp(group, b"ArtificialHaplotypeRG") == 0)
            or (self.drop_artificial and strcmp(group, b"ArtificialHaplotype") == 0)
        ):
            return False
        if b.core.l_qseq == 0:
            return False
        if (<uint8_t *>bam_get_qual(b))[0] == 0xff:  # QUAL '*': GATK's WellformedReadFilter
            return False  # (MatchingBasesAndQuals) drops the read
        return _passes_cigar(b)

    def select(self, str contig, int64_t start, int64_t end, int limit, rng):
        """Filtered reads overlapping [start, end] (1-based), reservoir-sampled to ``limit`` with
        the ``JavaRandom`` ``rng`` (its state advanced as the Python reservoir would)."""
        cdef uint64_t seed = rng._seed
        cdef list kept = []
        cdef int64_t seen = 0
        cdef int32_t slot
        cdef list per_file = []
        cdef int i
        for i in range(len(self.files)):
            if contig in self.files[i].references:
                if end - start > JUMP:  # the span of a structural variant, read in one pass
                    per_file.append((<_FileCursor>self.cursors[i]).streamed(contig, start - 1, end))
                else:
                    per_file.append(
                        (<_FileCursor>self.cursors[i]).overlapping(contig, start - 1, end))
        candidates = per_file[0] if len(per_file) == 1 else _merged([iter(r) for r in per_file])
        try:
            for read in candidates:
                if not self._keep(<AlignedSegment>read) \
                        or _htsjdk_ends_before((<AlignedSegment>read)._delegate, start):
                    continue
                seen += 1
                if seen <= limit:
                    kept.append(read)
                else:
                    slot = _next_int(&seed, <int32_t>seen)
                    if slot < limit:
                        kept[slot] = read
        finally:
            rng._seed = seed
        return kept


def _merged(list iterators):
    """heapq.merge(*iterators, key=_coordinate_key): the smallest head first, ties to the
    earlier file."""
    cdef list heads = []
    cdef int i, best
    for iterator in iterators:
        heads.append(next(iterator, None))
    while True:
        best = -1
        for i in range(len(heads)):
            if heads[i] is None:
                continue
            if best < 0 or _compare_coordinates((<AlignedSegment>heads[i])._delegate,
                                                (<AlignedSegment>heads[best])._delegate) < 0:
                best = i
        if best < 0:
            return
        yield heads[best]
        heads[best] = next(iterators[best], None)


# ------------------------------------------------------------------------------------------------
# the tensor

cdef struct Row:
    bam1_t *b
    int64_t unclipped_start
    uint8_t sort_char
    int index


cdef int _compare_rows(const void *x, const void *y) noexcept nogil:
    cdef const Row *a = <const Row *>x
    cdef const Row *b = <const Row *>y
    if a.sort_char != b.sort_char:
        return -1 if a.sort_char < b.sort_char else 1
    if a.unclipped_start != b.unclipped_start:
        return -1 if a.unclipped_start < b.unclipped_start else 1
    return a.index - b.index


cdef int64_t _unclipped_start(bam1_t *b) noexcept nogil:
    """GATK's getUnclippedStart (1-based, leading S and H subtracted); 0 for an unmapped read
    placed beside its mate, as GATK's read adapter gives (ReadConstants.UNSET_POSITION)."""
    cdef uint32_t *cigar = bam_get_cigar(b)
    cdef int64_t clip = 0
    cdef uint32_t i, op
    if b.core.flag & FLAG_UNMAPPED:
        return UNSET_POSITION
    for i in range(b.core.n_cigar):
        op = cigar[i] & 0xf
        if op != 4 and op != 5:
            break
        clip += cigar[i] >> 4
    return b.core.pos + 1 - clip


cdef inline uint8_t _base(bam1_t *b, int64_t i) noexcept nogil:
    return <uint8_t>_SEQ_CODES[<int>bam_seqi(bam_get_seq(b), i) & 0xf]


cdef uint8_t _sort_character(bam1_t *b, int64_t ustart, int64_t pos, bint snp) noexcept nogil:
    cdef int64_t last = b.core.l_qseq - 1
    cdef int64_t target, total = 0, index
    cdef uint32_t *cigar = bam_get_cigar(b)
    cdef uint32_t i, op
    if b.core.l_qseq == 0:
        return b'Z'
    if snp:
        index = pos - ustart
        return _base(b, min(max(index, 0), last))
    target = pos - ustart + 1
    for i in range(b.core.n_cigar):
        op = cigar[i] & 0xf
        total += cigar[i] >> 4
        if total > target:
            if op == 0:
                return _base(b, min(max(target, 0), last))
            return <uint8_t>_CIGAR_LETTERS[op]
    return b'Y'


cdef inline bint _moves_cursor(uint32_t op) noexcept nogil:
    return op == 0 or op == 1 or op == 2 or op == 4


cdef struct Pads:
    # a key -> length map with GATK's insertion-map semantics (small: a few keys per pileup)
    int64_t keys[MAX_PADS]
    int64_t lengths[MAX_PADS]
    int count


cdef int _pads_find(const Pads *pads, int64_t key) noexcept nogil:
    cdef int i
    for i in range(pads.count):
        if pads.keys[i] == key:
            return i
    return -1


cdef int _pads_put(Pads *pads, int64_t key, int64_t length) noexcept nogil:
    """Set (overwriting) ``key``; returns its slot, or -1 when the map is full (TooManyPads)."""
    cdef int i = _pads_find(pads, key)
    if i < 0:
        if pads.count == MAX_PADS:
            return -1
        i = pads.count
        pads.count += 1
        pads.keys[i] = key
    pads.lengths[i] = length
    return i


cdef inline int64_t _shifted_length(int64_t length, int64_t offset, int window) noexcept nogil:
    """The length of a read cut to the window and shifted by ``offset``, as :func:`_row` lays
    it: the positions its pads are inserted before (and after the last)."""
    cdef int64_t kept = min(length, <int64_t>window)
    cdef int64_t start = offset if offset > 0 else 0
    cdef int64_t lead = -offset if offset < 0 else 0
    return lead + max(kept - start, <int64_t>0)


cdef int _row(const uint8_t *seq, const uint8_t *qual, int64_t length, int64_t offset,
              const Pads *own, int64_t pad_from, int window, uint8_t *chars,
              uint8_t *quals, int64_t pads_first, int64_t pads_last) noexcept nogil:
    """One row's string and qualities, cut to the window, as GATK builds them: the read cut to
    the window, shifted by ``offset`` (SKIP columns before a read that starts later), then every
    pad of ``own`` inserted from the highest key down. All pads are the same symbol, so the result
    is: before each position t of the shifted read, the pads whose insertion point is t (keys
    below ``pad_from`` go to the start; keys past the end go to the end), ``pads_first`` and
    ``pads_last`` more at the start and the end (those of keys not kept in ``own``). Returns its
    length."""
    cdef int64_t start = offset if offset > 0 else 0
    cdef int64_t lead = -offset if offset < 0 else 0
    cdef int64_t total = _shifted_length(length, offset, window)
    cdef int64_t t, k, at, n, out = 0
    cdef int i
    cdef int64_t before
    for t in range(total + 1):
        before = (pads_first if t == 0 else 0) + (pads_last if t == total else 0)
        for i in range(own.count):
            n = own.lengths[i]
            if n <= 0:
                continue
            k = own.keys[i]
            at = 0 if k < pad_from else min(k, total)
            if at == t:
                before += n
        while before > 0 and out < window:
            chars[out] = PAD
            quals[out] = 0
            out += 1
            before -= 1
        if out >= window or t == total:
            break
        if t < lead:
            chars[out] = SKIP
            quals[out] = 0
        else:
            chars[out] = seq[start + t - lead]
            quals[out] = qual[start + t - lead]
        out += 1
    return <int>out


cdef enum:
    # what the tensor builder, without the GIL, reports for read_tensor to raise
    FULL = -1  # more distinct pad keys than a Pads holds (TooManyPads)
    UNKNOWN_SYMBOL = -2  # a read base outside the known codes
    NO_MEMORY = -3


def read_tensor(list reads, int64_t pos, str type_label, bytes reference_window, int window,
                int read_limit, int height, const float[::1] p_called, const float[::1] p_other,
                const float[:, ::1] base_vectors, const uint8_t[::1] known_bases):
    """The (height, window, 15) float32 tensor of the selected ``reads`` (AlignedSegments in
    reservoir order), as :func:`cnnscore.encode.read_tensor.read_tensor` builds it from their
    ReadData; ``height`` is the rows it is stored with (read_tensor.stored_height, or
    ``read_limit``: not compact), every row after the kept reads' an empty one. The p-hot and
    ambiguity tables come from the Python module, so both share them. Only gathering the records
    and raising hold the GIL; the tensor is built without it."""
    cdef int count = len(reads), kept = min(len(reads), read_limit), r, status
    if not (min(kept + 1, read_limit) <= height <= read_limit):
        raise ValueError(f"height {height} does not hold {kept} reads within {read_limit} rows")
    cdef bint snp = type_label == "SNP"
    cdef bam1_t *b
    cdef const uint8_t *text = reference_window
    cdef int64_t text_length = len(reference_window)
    cdef uint8_t bad = 0
    cdef float[:, :, ::1] cells
    cdef Row *rows = <Row *>malloc(max(count, 1) * sizeof(Row))
    if rows == NULL:
        raise MemoryError()
    try:
        for r in range(count):  # kept reads all have qualities (ReadSelector._keep)
            b = (<AlignedSegment>reads[r])._delegate
            rows[r].b = b
            rows[r].index = r
        if window > 4096 or text_length > 4096:
            raise ValueError("window too large for the compiled encoder")
        # every element is written by _build (one row-major pass): no zeroing first
        tensor = np.empty((height, window, 15), dtype=np.float32)
        cells = tensor
        # the records stay alive in ``reads``, which the caller holds; nothing else touches them
        with nogil:
            status = _build(cells, rows, count, kept, pos, snp, text, text_length, window,
                            p_called, p_other, base_vectors, known_bases, &bad)
        if status == FULL:
            raise TooManyPads()
        if status == UNKNOWN_SYMBOL:
            raise ValueError(f"unknown symbol {chr(bad)!r} in a read sequence")
        if status == NO_MEMORY:
            raise MemoryError()
        return tensor
    finally:
        free(rows)


cdef int _build(float[:, :, ::1] tensor, Row *rows, int count, int kept, int64_t pos, bint snp,
                const uint8_t *text, int64_t text_length, int window,
                const float[::1] p_called, const float[::1] p_other,
                const float[:, ::1] base_vectors, const uint8_t[::1] known_bases,
                uint8_t *bad) noexcept nogil:
    """The tensor of ``rows`` (their records and input order set): GATK's row order, the
    pileup-wide insertion map, then :func:`_fill`. 0, or what went wrong (FULL, ...)."""
    cdef int64_t window_start = pos - window // 2, offset, cursor, key, op_length
    cdef int64_t buffer_size = 0
    cdef uint32_t *cigar
    cdef uint32_t i, op
    cdef bam1_t *b
    cdef int r, index, status
    cdef size_t cells
    cdef Pads inserts, own
    cdef uint8_t *chars
    cdef uint8_t *quals
    inserts.count = 0
    for r in range(count):
        b = rows[r].b
        rows[r].unclipped_start = _unclipped_start(b)
        rows[r].sort_char = _sort_character(b, rows[r].unclipped_start, pos, snp)
        buffer_size = max(buffer_size, <int64_t>b.core.l_qseq)
    # the pileup-wide insertion map, over reads starting within a window of it
    for r in range(count):
        b = rows[r].b
        offset = window_start - rows[r].unclipped_start
        if offset >= window or -offset >= window:
            continue
        cigar = bam_get_cigar(b)
        cursor = 0
        for i in range(b.core.n_cigar):
            op = cigar[i] & 0xf
            op_length = cigar[i] >> 4
            if op == 1:
                key = cursor - offset
                index = _pads_find(&inserts, key)
                if op_length > (inserts.lengths[index] if index >= 0 else 0):
                    if _pads_put(&inserts, key, op_length) < 0:
                        return FULL
            if _moves_cursor(op):
                cursor += op_length
    qsort(rows, count, sizeof(Row), _compare_rows)
    cells = max(tensor.shape[0] * window, 1)  # malloc(0) may give NULL
    chars = <uint8_t *>malloc(cells)
    quals = <uint8_t *>calloc(cells, 1)
    if chars == NULL or quals == NULL:
        status = NO_MEMORY
    else:
        memset(chars, SKIP, cells)
        status = _fill(tensor, chars, quals, rows, kept, &inserts, &own, window_start, window,
                       buffer_size, text, text_length, p_called, p_other, base_vectors,
                       known_bases, bad)
    free(chars)
    free(quals)
    return status


cdef inline int _acgt(uint8_t code) noexcept nogil:
    """0, 1, 2, 3 for A, C, G, T (the p-hot read channels and the reference channels in that
    order); -1 for anything else."""
    if code == b'A':
        return 0
    if code == b'C':
        return 1
    if code == b'G':
        return 2
    if code == b'T':
        return 3
    return -1


cdef int _fill(float[:, :, ::1] tensor, uint8_t *row_chars, uint8_t *row_quals, Row *rows,
               int count, const Pads *inserts, Pads *own, int64_t window_start, int window,
               int64_t buffer_size, const uint8_t *text, int64_t text_length,
               const float[::1] p_called, const float[::1] p_other,
               const float[:, ::1] base_vectors, const uint8_t[::1] known_bases,
               uint8_t *bad) noexcept nogil:
    """Every element of ``tensor``: first each read's row string (``row_chars``, ``row_quals``:
    height x window, SKIP and 0 beyond what a row writes) and flag span, then one row-major pass
    writing all 15 channels of each cell (reads' p-hot bases and pads, the reference row, the
    flags), so the tensor is written once and in order. 0, or FULL, UNKNOWN_SYMBOL (the symbol in
    ``bad``), NO_MEMORY."""
    cdef uint8_t *seq = <uint8_t *>malloc(max(buffer_size, <int64_t>1))
    cdef float *flag_values = <float *>malloc(max(count, 1) * 5 * sizeof(float))
    cdef int *spans = <int *>malloc(max(count, 1) * 2 * sizeof(int))
    cdef float reference[4096 * 5]
    cdef bam1_t *b
    cdef uint32_t *cigar
    cdef uint32_t i, op
    cdef int64_t offset, cursor, key, op_length, j, total, pads_first, pads_last
    cdef int r, c, length, first, last, index, base, status = 0
    cdef uint8_t code, q
    cdef uint8_t *chars
    cdef float other
    cdef float *cell
    cdef float *flags
    if seq == NULL or flag_values == NULL or spans == NULL:
        status = NO_MEMORY
    else:
        _reference_row(reference, text, text_length, inserts, window, base_vectors, known_bases)
    for r in range(count if status == 0 else 0):
        b = rows[r].b
        for j in range(b.core.l_qseq):
            seq[j] = _base(b, j)
        offset = window_start - rows[r].unclipped_start
        # this read's pads: its own insertions, then its deletions. A deletion whose key lies
        # before the row's first position or past its last, and is no pileup insertion's, only
        # adds pads at the row's start or end: summed there, not kept (a long read's thousands
        # of deletions outside the window filled ``own`` and sent every such site to the
        # Python encoder). Summing equals the put's overwrite: a deletion moves the cursor by
        # its length, so two share a key only after one of length 0, which adds nothing.
        own.count = 0
        total = _shifted_length(b.core.l_qseq, offset, window)
        pads_first, pads_last = 0, 0
        cigar = bam_get_cigar(b)
        cursor = 0
        for i in range(b.core.n_cigar):
            op = cigar[i] & 0xf
            op_length = cigar[i] >> 4
            key = cursor - offset
            if op == 1:
                index = _pads_find(inserts, key)
                if index >= 0 and _pads_put(own, key, inserts.lengths[index] - op_length) < 0:
                    status = FULL
            elif op == 2:
                if (1 <= key < total) or _pads_find(inserts, key) >= 0:
                    if _pads_put(own, key, op_length) < 0:
                        status = FULL
                elif key < 1:
                    pads_first += op_length
                else:
                    pads_last += op_length
            if _moves_cursor(op):
                cursor += op_length
        for index in range(inserts.count):
            if _pads_find(own, inserts.keys[index]) < 0:
                if _pads_put(own, inserts.keys[index], inserts.lengths[index]) < 0:
                    status = FULL
        if status != 0:
            break
        chars = &row_chars[r * window]
        length = _row(seq, <uint8_t *>bam_get_qual(b), b.core.l_qseq, offset, own, 1, window,
                      chars, &row_quals[r * window], pads_first, pads_last)
        first, last = -1, -1
        for c in range(length):
            if chars[c] != SKIP:
                if first < 0:
                    first = c
                last = c
        if not (first >= 0 and last > first):  # GATK's [first, last)
            first, last = 0, 0
        spans[2 * r] = first
        spans[2 * r + 1] = last
        flags = &flag_values[5 * r]
        flags[0] = 1.0 if b.core.flag & FLAG_REVERSE else 0.0
        flags[1] = 1.0 if (b.core.flag & FLAG_PAIRED) and (b.core.flag & FLAG_MATE_REVERSE) else 0.0
        flags[2] = 1.0 if (b.core.flag & FLAG_PAIRED) and (b.core.flag & FLAG_READ1) else 0.0
        flags[3] = 0.0 if (b.core.flag & FLAG_PAIRED) and (b.core.flag & FLAG_READ1) else 1.0
        flags[4] = <float>(b.core.qual / 60.0)
    # row-major, so the first unknown symbol is the one reported; of the empty rows after the
    # reads only the first is computed, the others are copies of it
    for r in range(min(tensor.shape[0], count + 1) if status == 0 else 0):
        if r < count:
            first, last = spans[2 * r], spans[2 * r + 1]
            flags = &flag_values[5 * r]
        else:
            first, last = 0, 0
        for c in range(window):
            cell = &tensor[r, c, 0]
            code = row_chars[r * window + c]
            for j in range(5):
                cell[j] = 0.0
            if code != SKIP:
                q = row_quals[r * window + c]
                base = _acgt(code)
                if base >= 0:
                    other = p_other[q]
                    for j in range(4):
                        cell[j] = other
                    cell[base] = p_called[q]
                elif code == PAD:
                    cell[4] = 1.0
                elif known_bases[code]:
                    for j in range(4):
                        cell[j] = base_vectors[code, j]
                else:
                    bad[0] = code
                    status = UNKNOWN_SYMBOL
                    break
            for j in range(5):
                cell[5 + j] = reference[5 * c + j]
            if first <= c < last:
                for j in range(5):
                    cell[10 + j] = flags[j]
            else:
                for j in range(5):
                    cell[10 + j] = 0.0
        if status != 0:
            break
    for r in range(count + 1 if status == 0 else tensor.shape[0], tensor.shape[0]):
        memcpy(&tensor[r, 0, 0], &tensor[count, 0, 0], window * 15 * sizeof(float))
    free(seq)
    free(flag_values)
    free(spans)
    return status


cdef void _reference_row(float *reference, const uint8_t *text, int64_t text_length,
                         const Pads *inserts, int window, const float[:, ::1] base_vectors,
                         const uint8_t[::1] known_bases) noexcept nogil:
    """The five reference channels of every row, per column: the window with the pileup's
    insertion pads (keys below 0 at the start), cut to the window; zeros past its end. The
    caller has checked that the window and the text fit 4096 columns."""
    cdef uint8_t chars[4096]
    cdef uint8_t quals[4096]
    cdef uint8_t zeros[4096]
    cdef int length, c, j, channel
    cdef uint8_t code
    for c in range(text_length):
        zeros[c] = 0
    for c in range(5 * window):
        reference[c] = 0.0
    length = _row(text, zeros, text_length, 0, inserts, 0, window, chars, quals, 0, 0)
    for c in range(length):
        code = chars[c]
        channel = _acgt(code)
        if channel < 0 and code == PAD:
            channel = 4
        if channel >= 0:
            reference[5 * c + channel] = 1.0
        elif known_bases[code]:
            for j in range(4):
                reference[5 * c + j] = base_vectors[code, j]
