"""Google Cloud Storage access: one client per run, the standard auth chain, clear errors.

Terra data lives in GCS, and users run cnnscore on ``gs://`` paths from notebooks and VMs. Every
GCS call goes through this module so that credentials (Application Default Credentials: the
metadata server, ``GOOGLE_APPLICATION_CREDENTIALS`` or ``gcloud auth application-default login``),
the requester-pays project and the error wording are decided in one place. ``STORAGE_EMULATOR_HOST``
(honoured by google-cloud-storage itself) points everything at an emulator.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from ..errors import InputError
from ..io.files import complete_or_nothing

SCHEME = "gs://"
#: Resumable uploads send this much per request; an interrupted upload leaves no object.
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024


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


@contextmanager
def _explained(url: str) -> Iterator[None]:
    """Turn google-cloud errors into one InputError line naming the object."""
    from google.api_core import exceptions
    from google.auth.exceptions import DefaultCredentialsError, RefreshError

    try:
        yield
    except exceptions.NotFound:
        raise InputError("object does not exist", path=url) from None
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
    except exceptions.GoogleAPICallError as err:
        raise InputError(f"Cloud Storage error: {err}", path=url) from None


class GcsClient:
    """Reads, downloads and uploads objects; created lazily so local-only runs never import GCS."""

    def __init__(self, requester_pays_project: str | None = None):
        self.requester_pays_project = requester_pays_project
        self._client = None

    def _bucket(self, gcs: GcsObject):
        if self._client is None:
            with _explained(gcs.url):
                try:
                    from google.cloud import storage
                except ImportError:
                    raise InputError(
                        "gs:// paths need google-cloud-storage: pip install 'cnnscore[gcs]'",
                        path=gcs.url,
                    ) from None
                self._client = storage.Client(project=self.requester_pays_project)
        return self._client.bucket(gcs.bucket, user_project=self.requester_pays_project)

    def stat(self, url: str) -> ObjectInfo:
        gcs = GcsObject.parse(url)
        with _explained(url):
            blob = self._bucket(gcs).get_blob(gcs.name)
        if blob is None:
            raise InputError("object does not exist", path=url)
        return ObjectInfo(size=int(blob.size), generation=int(blob.generation))

    def exists(self, url: str) -> bool:
        gcs = GcsObject.parse(url)
        with _explained(url):
            return self._bucket(gcs).blob(gcs.name).exists()

    def read_range(self, url: str, start: int, end: int, generation: int | None = None) -> bytes:
        """Bytes [start, end] inclusive, of one generation so a rewrite mid-run cannot mix data."""
        gcs = GcsObject.parse(url)
        with _explained(url):
            blob = self._bucket(gcs).blob(gcs.name, generation=generation)
            return blob.download_as_bytes(start=start, end=end, checksum=None)

    def download(self, url: str, local_path: str, generation: int | None = None) -> None:
        """Whole object to ``local_path``, via a temporary name so a failed copy is never used."""
        gcs = GcsObject.parse(url)
        with complete_or_nothing(local_path) as partial, _explained(url):
            blob = self._bucket(gcs).blob(gcs.name, generation=generation)
            blob.download_to_filename(partial)

    def upload(self, local_path: str, url: str) -> None:
        """A resumable upload: GCS creates the object only when the last chunk arrives, so an
        interrupted upload leaves nothing (or the previous version) at ``url``."""
        gcs = GcsObject.parse(url)
        try:
            with _explained(url), _open_for_upload(local_path) as handle:
                blob = self._bucket(gcs).blob(gcs.name, chunk_size=UPLOAD_CHUNK_BYTES)
                blob.upload_from_file(handle, size=os.path.getsize(local_path))
        except InputError:
            raise
        except Exception as err:  # network and transport failures of every library layer
            raise InputError(
                f"upload interrupted ({type(err).__name__}: {err}); no object was created",
                path=url,
            ) from None


def _open_for_upload(local_path: str) -> IO[bytes]:
    """The file an upload reads (a seam for the interrupted-upload test)."""
    return open(local_path, "rb")
