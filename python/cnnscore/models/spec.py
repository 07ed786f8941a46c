"""GATK's model JSON (``--architecture``): which tensor, annotations and shapes a model expects."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..errors import InputError

REFERENCE = "reference"
READ_TENSOR = "read_tensor"

#: The 15-channel read-tensor layout every shipped GATK 2D model uses (GATK's ``read_tensor`` map).
READ_TENSOR_CHANNEL_MAP = {
    "read_A": 0, "read_C": 1, "read_G": 2, "read_T": 3, "read_*": 4,
    "reference_A": 5, "reference_C": 6, "reference_G": 7, "reference_T": 8, "reference_*": 9,
    "flag_bit_4": 10, "flag_bit_5": 11, "flag_bit_6": 12, "flag_bit_7": 13, "mapping_quality": 14,
}  # fmt: skip
REFERENCE_CHANNEL_MAP = {"A": 0, "C": 1, "G": 2, "T": 3}
OUTPUT_LABELS = {"NOT_SNP": 0, "NOT_INDEL": 1, "SNP": 2, "INDEL": 3}
#: GATK's default ``--info-annotation-keys``: the annotation input of every shipped model.
DEFAULT_ANNOTATION_KEYS = ("MQ", "DP", "SOR", "FS", "QD", "MQRankSum", "ReadPosRankSum")


@dataclass(frozen=True)
class ModelSpec:
    """What the scorer needs from a GATK architecture JSON."""

    path: str
    model_id: str
    tensor_type: str  # "reference" (1D) or "read_tensor" (2D)
    annotation_set: str  # also the Keras name of the annotation input
    annotations: tuple[str, ...]
    window_size: int
    read_limit: int
    #: the sha256 of the weights ``cnnscore train`` wrote with this JSON (None for any other)
    weights_sha256: str | None = None

    @property
    def info_key(self) -> str:
        return "CNN_1D" if self.tensor_type == REFERENCE else "CNN_2D"


def read_architecture_json(path: str) -> object:
    """The parsed JSON of an architecture file, or one clear error naming it."""
    if not os.path.isfile(path):
        raise InputError("architecture JSON does not exist", path=path)
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"not a readable architecture JSON ({err})", path=path) from None


def load_model_spec(path: str) -> ModelSpec:
    return parse_model_spec(read_architecture_json(path), path)


def parse_model_spec(data: object, path: str) -> ModelSpec:
    """Check a GATK architecture JSON's content (already parsed) and read what the scorer needs;
    ``path`` names it in errors (``cnnscore train`` checks a JSON it is about to write)."""
    if not isinstance(data, dict):
        raise InputError("architecture JSON is not an object", path=path)
    try:
        tensor_type = data["input_tensor_map_name"]
        channel_map = data["input_tensor_map"]
        labels = data["output_labels"]
    except KeyError as err:
        raise InputError(f"architecture JSON has no {err.args[0]} key", path=path) from None
    if tensor_type not in (REFERENCE, READ_TENSOR):
        raise InputError(f"unsupported input_tensor_map_name '{tensor_type}'", path=path)
    expected_map = READ_TENSOR_CHANNEL_MAP if tensor_type == READ_TENSOR else REFERENCE_CHANNEL_MAP
    if channel_map != expected_map:
        raise InputError(f"channel map differs from GATK's {tensor_type} layout", path=path)
    if data.get("channels_last", True) is not True:
        raise InputError("channels_first models are not supported", path=path)
    if labels != OUTPUT_LABELS:
        raise InputError(f"output_labels {labels} differ from GATK's {OUTPUT_LABELS}", path=path)
    annotations = data.get("input_annotations", [])
    if not isinstance(annotations, list) or not all(isinstance(a, str) for a in annotations):
        raise InputError("input_annotations is not a list of INFO keys", path=path)
    return ModelSpec(
        path=path,
        model_id=str(data.get("id", os.path.basename(path))),
        tensor_type=tensor_type,
        annotation_set=str(data.get("input_annotation_set", "annotations")),
        annotations=tuple(annotations),
        window_size=_whole_number(data, "window_size", path),
        read_limit=_whole_number(data, "read_limit", path),
        weights_sha256=_trained_weights_digest(data),
    )


def _trained_weights_digest(data: dict) -> str | None:
    training = data.get("cnnscore_training")
    digest = training.get("weights_sha256") if isinstance(training, dict) else None
    return digest if isinstance(digest, str) else None


def check_trained_pair(spec: ModelSpec, weights_path: str) -> None:
    """A JSON ``cnnscore train`` wrote names the sha256 of the weights written with it: other
    weights beside it (a run killed between publishing the two files left a new .hd5 beside the
    earlier run's .json, the interruption review found) are refused, not scored."""
    from ..io.files import sha256_file

    if spec.weights_sha256 is not None and sha256_file(weights_path) != spec.weights_sha256:
        raise InputError(
            f"these are not the weights {os.path.basename(spec.path)} was trained with (its "
            "cnnscore_training.weights_sha256 differs): give the .json and .hd5 that one train "
            "run wrote together",
            path=weights_path,
        )


def _whole_number(data: dict, key: str, path: str) -> int:
    """A size GATK's JSON gives as a number (128); anything else is refused, not guessed."""
    value = data.get(key, 128)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{key} is {json.dumps(value)}, not a positive whole number", path=path)
    return value


def companion_path(path: str, suffix: str) -> str:
    """GATK derives the missing one of --architecture/--weights by swapping .json and .hd5."""
    stem, _ = os.path.splitext(path)
    return stem + suffix
