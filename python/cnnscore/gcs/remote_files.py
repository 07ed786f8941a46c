"""Per-run mapping of ``gs://`` arguments to what the local code reads and writes.

The scorer itself only knows local paths and htslib URLs. This layer sits between the command line
and it, so every subcommand gains ``gs://`` without its modules knowing about GCS:

- small inputs (VCFs, models, interval lists, metrics, and every index) are downloaded into a cache
  that mirrors the bucket layout (so ``x.vcf.gz.tbi`` lands beside ``x.vcf.gz``) and is keyed by
  object generation, so a rewritten object is fetched again and an unchanged one never is;
- BAM/CRAM and FASTA are read by range through :class:`~cnnscore.gcs.range_server.RangeServer`, with
  their indexes from the cache, joined to the URL by htslib's ``##idx##`` convention (a CRAM's
  reference too: nothing is downloaded whole);
- outputs are written to a local staging folder and uploaded only after the command succeeded,
  an earlier index at the destination removed first and the new one uploaded last, so a run
  stopped between the uploads never leaves one VCF beside another's index.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

from ..errors import InputError
from ..io.locations import INDEX_DELIMITER
from .client import DEFAULT_MAX_RETRIES, GcsClient, GcsObject, is_gcs
from .range_server import RangeServer

VCF_INDEX_SUFFIXES = (".tbi", ".csi")
READS_INDEX_SUFFIXES = {".bam": (".bai", ".csi"), ".cram": (".crai",)}
FASTA_INDEX_SUFFIXES = (".fai", ".gzi")


def default_cache_dir() -> str:
    return os.environ.get(
        "CNNSCORE_GCS_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "cnnscore", "gcs")
    )


@dataclass
class _StagedOutput:
    url: str
    local_path: str


class RemoteFiles:
    """Use as a context manager around one command; call :meth:`publish` once it succeeded."""

    def __init__(
        self,
        requester_pays_project: str | None = None,
        cache_dir: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ):
        self._project = requester_pays_project
        self._max_retries = max_retries
        self._client = GcsClient(requester_pays_project, max_retries)
        self._cache_dir = cache_dir or default_cache_dir()
        self._server: RangeServer | None = None
        self._staging: str | None = None
        self._outputs: list[_StagedOutput] = []
        self._aliases: dict[str, str] = {}  # local name or URL -> the user's gs:// path

    def __enter__(self) -> RemoteFiles:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    # ---------------------------------------------------------------------------------- inputs

    def _cached(self, url: str) -> str:
        """Download ``url`` into the cache unless the same generation is already there."""
        info = self._client.stat(url)
        gcs = GcsObject.parse(url)
        local = os.path.join(self._cache_dir, gcs.bucket, *gcs.name.split("/"))
        stamp = f"{local}.cnnscore-generation"
        if os.path.isfile(local) and _read(stamp) == str(info.generation):
            return local
        os.makedirs(os.path.dirname(local), exist_ok=True)
        self._client.download(url, local, info.generation)
        with open(stamp, "w") as handle:
            handle.write(str(info.generation))
        self._aliases[local] = url
        return local

    def _cached_companions(self, url: str, suffixes: tuple[str, ...]) -> list[str]:
        """Those of ``url + suffix`` that exist, cached beside the main object's cache copy."""
        return [self._cached(url + s) for s in suffixes if self._client.exists(url + s)]

    def file(self, path: str | None) -> str | None:
        """A whole-file input (model, interval list, metrics): a local path."""
        if not is_gcs(path):
            return path
        local = self._cached(path)
        self._aliases[local] = path
        return local

    def vcf(self, path: str | None) -> str | None:
        """A VCF input, with its .tbi/.csi beside it when the bucket has one, or with the index
        given with it (``gs://x.vcf.gz##idx##gs://y.tbi``, as the workflow passes a resource)."""
        if path is not None and INDEX_DELIMITER in path:
            path, given = path.split(INDEX_DELIMITER, 1)
            return f"{self.file(path)}{INDEX_DELIMITER}{self.file(given)}"
        if not is_gcs(path):
            return path
        # the credentials before the companions, so that their absence is said of the VCF the
        # user named, not of a .tbi they never typed
        self._client.credentials_for(path)
        self._cached_companions(path, VCF_INDEX_SUFFIXES)
        return self.file(path)

    def _url(self, path: str) -> str:
        if self._server is None:
            self._server = RangeServer(self._project, self._max_retries)
        url = self._server.url_for(path, self._client.stat(path))
        self._aliases[url] = path
        return url

    def reads(self, path: str) -> str:
        """A BAM/CRAM input: read by range; its index from the cache (``URL##idx##index``).

        The index is the one given with it (``gs://x.bam##idx##gs://y.bai``, as the workflow
        passes each file with its index), else found beside it: ``x.bam.bai`` or the Broad's
        ``x.bai`` (and .csi / .crai likewise)."""
        given = None
        if INDEX_DELIMITER in path:
            path, given = path.split(INDEX_DELIMITER, 1)
        if not is_gcs(path):
            return path if given is None else f"{path}{INDEX_DELIMITER}{self.file(given)}"
        url = self._url(path)  # first, so a missing BAM is reported as missing, not unindexed
        if given is not None:
            index = self.file(given) if is_gcs(given) else given
        else:
            index = self._find_reads_index(path)
        joined = f"{url}{INDEX_DELIMITER}{index}"
        self._aliases[joined] = path
        return joined

    def _find_reads_index(self, path: str) -> str:
        extension = next((e for e in READS_INDEX_SUFFIXES if path.lower().endswith(e)), "")
        suffixes = READS_INDEX_SUFFIXES.get(extension, (".bai", ".crai", ".csi"))
        stem = path[: -len(extension)] if extension else path
        candidates = [path + s for s in suffixes] + [stem + s for s in suffixes if extension]
        for candidate in candidates:
            if self._client.exists(candidate):
                return self._cached(candidate)
        raise InputError(f"index is missing: none of {', '.join(candidates)} exists", path=path)

    def fasta(self, path: str) -> str:
        """A FASTA input: read by range; its .fai (and .gzi for bgzip) from the cache, the ones
        given with it (``gs://x.fa##idx##gs://x.fai##idx##gs://x.gzi``, as the workflow passes
        them) or else those beside it. CRAM decoding reads the same URL: htslib asks the range
        server for ``URL.fai``/``URL.gzi``, which serves the companions beside the FASTA."""
        given: list[str] = []
        if INDEX_DELIMITER in path:
            path, *given = path.split(INDEX_DELIMITER)
        if not is_gcs(path):
            return INDEX_DELIMITER.join([path, *(self.file(index) for index in given)])
        url = self._url(path)
        if given:
            indexes = [self.file(index) for index in given]
        else:
            if not self._client.exists(path + ".fai"):
                raise InputError(
                    f"reference index {os.path.basename(path)}.fai is missing (samtools faidx)",
                    path=path,
                )
            indexes = self._cached_companions(path, FASTA_INDEX_SUFFIXES)
        joined = INDEX_DELIMITER.join([url, *indexes])
        self._aliases[joined] = path
        return joined

    # --------------------------------------------------------------------------------- outputs

    def output(self, path: str | None) -> str | None:
        """Where to write an output that goes to ``path``: a staging file for gs://."""
        if not is_gcs(path):
            return path
        # a malformed destination, or no credentials to write it with, fails before any work,
        # not after it (the client finds the credentials when it is made, without a request)
        self._client.credentials_for(path)
        if self._staging is None:
            self._staging = tempfile.mkdtemp(prefix="cnnscore-upload-")
        folder = os.path.join(self._staging, str(len(self._outputs)))
        os.makedirs(folder)
        local = os.path.join(folder, os.path.basename(path))
        self._outputs.append(_StagedOutput(path, local))
        self._aliases[local] = path
        return local

    def output_dir(self, path: str) -> str:
        """A folder output (split-intervals): every file in it is uploaded under ``path``."""
        if not is_gcs(path):
            return path
        prefix = path.rstrip("/") + "/"
        local = self.output(prefix + "folder")
        os.makedirs(local)
        self._outputs[-1] = _StagedOutput(prefix, local)
        return local

    def publish(self) -> int:
        """Upload every staged output: a VCF's index (or a report's .json/.html) after the main
        object, the earlier ones at their names removed first. A run stopped between the uploads
        (preempted, interrupted, an upload failing for good) then leaves the earlier or the new
        VCF without an index, which a reader notices, never beside the other's index, whose
        offsets htslib would follow into the wrong records (indexes went up first, and such a
        stop left the new index beside the earlier VCF: the interruption review). Returns how
        many outputs there were."""
        for staged in self._outputs:
            if os.path.isdir(staged.local_path):
                for name in sorted(os.listdir(staged.local_path)):
                    self._client.upload(os.path.join(staged.local_path, name), staged.url + name)
                continue
            folder = os.path.dirname(staged.local_path)
            base = os.path.basename(staged.local_path)
            companions = [name for name in sorted(os.listdir(folder))
                          if name != base and name.startswith(base)]  # fmt: skip
            for name in companions:
                self._client.delete(staged.url + name[len(base) :])
            if os.path.exists(staged.local_path):
                self._client.upload(staged.local_path, staged.url)
            for name in companions:
                self._client.upload(os.path.join(folder, name), staged.url + name[len(base) :])
        return len(self._outputs)

    def read_failure(self) -> str | None:
        """Why a by-range read failed for good, if one did: htslib reports only an I/O error."""
        return self._server.failure() if self._server is not None else None

    def user_text(self, message: str) -> str:
        """``message`` with cache paths and loopback URLs put back as the user's gs:// paths."""
        for local, url in sorted(self._aliases.items(), key=lambda item: -len(item[0])):
            message = message.replace(local, url)
        return message


def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None
