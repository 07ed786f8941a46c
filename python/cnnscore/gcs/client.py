"""Google Cloud Storage access: one client per run, the standard auth chain, clear errors.

Terra data lives in GCS, and users run cnnscore on ``gs://`` paths from notebooks and VMs. Every
GCS call goes through this module so that credentials (Application Default Credentials: the
metadata server, ``GOOGLE_APPLICATION_CREDENTIALS`` or ``gcloud auth application-default login``),
the requester-pays project and the error wording are decided in one place. ``STORAGE_EMULATOR_HOST``
(honoured by google-cloud-storage itself) points everything at an emulator.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from ..errors import InputError
from ..io.files import complete_or_nothing

SCHEME = "gs://"
#: Resumable uploads send this much per request; an interrupted upload leaves no object.
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024
#: GATK's --gcs-max-retries default: how often one request is tried again after a transient
#: failure (HTTP 408/429/5xx, a refused, reset or cut-short connection), waiting 1, 2, 4 ... up to
#: 32 s (with jitter) in between, so that the default rides out about eight minutes of outage.
DEFAULT_MAX_RETRIES = 20
FIRST_RETRY_SECONDS = 1.0
LONGEST_RETRY_SECONDS = 32.0


def is_gcs(path: str | None) -> bool:
    return bool(path) and str(path).startswith(SCHEME)


@dataclass(frozen=True)
class GcsObject:
    bucket: str
    name: str

    @classmethod
    def parse(cls, url: str) -> GcsObject:
        bucket, _, name = url[len(SCHEME) :].partition("/")
        if not bucket or not name or name.endswith("/"):
            raise InputError("not a gs://bucket/object path", path=url)
        return cls(bucket, name)

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.name}"


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    generation: int


def retry_policy(max_retries: int, url: str = ""):
    """A retry policy for one call: the library's own list of transient failures (its
    ``DEFAULT_RETRY`` predicate), given up after ``max_retries`` retries rather than after a fixed
    two minutes, so that ``--gcs-max-retries`` means what it means in GATK. Each retry says so
    in one line: the waits add up to minutes, which would otherwise pass without a word."""
    from google.cloud.storage.retry import DEFAULT_RETRY, _should_retry

    attempts = itertools.count(1)

    def transient_and_allowed(err: Exception) -> bool:
        if not _should_retry(err):
            return False
        attempt = next(attempts)
        if attempt > max_retries:
            return False
        print(
            f"cnnscore: note: {url or 'Cloud Storage'}: {type(err).__name__}: {_one_line(err)}; "
            f"trying again ({attempt} of {max_retries}, --gcs-max-retries)",
            file=sys.stderr,
        )
        return True

    return (
        DEFAULT_RETRY.with_predicate(transient_and_allowed)
        .with_delay(initial=FIRST_RETRY_SECONDS, maximum=LONGEST_RETRY_SECONDS, multiplier=2.0)
        .with_timeout(None)
    )


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


class MissingObject(InputError):
    """The object is not there (as against: the storage could not say)."""


class ShortRead(ConnectionError):
    """A range read that came back with fewer bytes than asked for (a connection cut short
    without the transport noticing): transient, so retried like a reset."""


@contextmanager
def _explained(url: str, max_retries: int = DEFAULT_MAX_RETRIES) -> Iterator[None]:
    """Turn google-cloud and transport errors into one InputError line naming the object."""
    from google.api_core import exceptions
    from google.auth.exceptions import DefaultCredentialsError, RefreshError
    from google.cloud.storage.retry import _should_retry

    try:
        yield
    except exceptions.NotFound:
        raise MissingObject("object does not exist", path=url) from None
    except (exceptions.Forbidden, exceptions.Unauthorized) as err:
        raise InputError(
            f"permission denied ({err.code}): check the account's access to the bucket; "
            "a requester-pays bucket needs --requester-pays-project",
            path=url,
        ) from None
    except (DefaultCredentialsError, RefreshError) as err:
        raise InputError(
            f"no usable Google credentials ({err}); run `gcloud auth application-default login` "
            "or set GOOGLE_APPLICATION_CREDENTIALS",
            path=url,
        ) from None
    except Exception as err:
        if _should_retry(err):  # the retries are spent: an outage, not a bad request
            raise InputError(
                f"Cloud Storage still failing after {max_retries} retries "
                f"({type(err).__name__}: {_one_line(err)}); --gcs-max-retries allows more",
                path=url,
            ) from None
        if isinstance(err, exceptions.GoogleAPICallError):
            raise InputError(f"Cloud Storage error: {_one_line(err)}", path=url) from None
        raise


class GcsClient:
    """Reads, downloads and uploads objects; created lazily so local-only runs never import GCS."""

    def __init__(
        self, requester_pays_project: str | None = None, max_retries: int = DEFAULT_MAX_RETRIES
    ):
        self.requester_pays_project = requester_pays_project
        self.max_retries = max_retries
        self._client = None

    def _explained(self, url: str):
        return _explained(url, self.max_retries)

    def _retry(self, url: str = ""):
        return retry_policy(self.max_retries, url)

    def _bucket(self, gcs: GcsObject):
        if self._client is None:
            with self._explained(gcs.url):
                try:
                    from google.cloud import storage
                except ImportError:
                    raise InputError(
                        "gs:// paths need google-cloud-storage: pip install 'cnnscore[gcs]'",
                        path=gcs.url,
                    ) from None
                self._client = storage.Client(project=self.requester_pays_project)
        return self._client.bucket(gcs.bucket, user_project=self.requester_pays_project)

    def credentials_for(self, url: str) -> None:
        """Parse ``url`` and make the client, which finds (or fails to find) credentials."""
        self._bucket(GcsObject.parse(url))

    def stat(self, url: str) -> ObjectInfo:
        gcs = GcsObject.parse(url)
        with self._explained(url):
            blob = self._bucket(gcs).get_blob(gcs.name, retry=self._retry(url))
        if blob is None:
            raise MissingObject("object does not exist", path=url)
        return ObjectInfo(size=int(blob.size), generation=int(blob.generation))

    def exists(self, url: str) -> bool:
        gcs = GcsObject.parse(url)
        with self._explained(url):
            return self._bucket(gcs).blob(gcs.name).exists(retry=self._retry(url))

    def read_range(self, url: str, start: int, end: int, generation: int | None = None) -> bytes:
        """Bytes [start, end] inclusive, of one generation so a rewrite mid-run cannot mix data.
        ``end`` must lie inside the object: a shorter answer is a cut connection, tried again."""
        gcs = GcsObject.parse(url)
        wanted = end - start + 1
        retry = self._retry(url)
        with self._explained(url):
            blob = self._bucket(gcs).blob(gcs.name, generation=generation)

            def read() -> bytes:
                data = blob.download_as_bytes(start=start, end=end, checksum=None, retry=retry)
                if len(data) != wanted:
                    raise ShortRead(f"{len(data)} of {wanted} bytes at offset {start}")
                return data

            return retry(read)()

    def download(self, url: str, local_path: str, generation: int | None = None) -> None:
        """Whole object to ``local_path``, via a temporary name so a failed copy is never used."""
        gcs = GcsObject.parse(url)
        with complete_or_nothing(local_path) as partial, self._explained(url):
            blob = self._bucket(gcs).blob(gcs.name, generation=generation)
            blob.download_to_filename(partial, retry=self._retry(url))

    def upload(self, local_path: str, url: str) -> None:
        """A resumable upload: GCS creates the object only when the last chunk arrives, so an
        interrupted upload leaves nothing (or the previous version) at ``url``."""
        gcs = GcsObject.parse(url)
        try:
            with self._explained(url), _open_for_upload(local_path) as handle:
                blob = self._bucket(gcs).blob(gcs.name, chunk_size=UPLOAD_CHUNK_BYTES)
                # retried although not conditional on a generation: a resumable session asks
                # the server how far it got before sending again, and a one-request upload
                # replaces the whole object, so a retry cannot leave a mixture
                blob.upload_from_file(
                    handle, size=os.path.getsize(local_path), retry=self._retry(url)
                )
        except InputError:
            raise
        except Exception as err:  # network and transport failures of every library layer
            raise InputError(
                f"upload interrupted ({type(err).__name__}: {err}); no object was created",
                path=url,
            ) from None

    def delete(self, url: str) -> None:
        """Remove the object at ``url``; none there is not an error."""
        from google.api_core import exceptions

        gcs = GcsObject.parse(url)
        with self._explained(url), contextlib.suppress(exceptions.NotFound):
            self._bucket(gcs).blob(gcs.name).delete(retry=self._retry(url))


def _open_for_upload(local_path: str) -> IO[bytes]:
    """The file an upload reads (a seam for the interrupted-upload test)."""
    return open(local_path, "rb")
