"""Inputs in a bucket (``input_dir: s3://bucket/prefix``), through obstore (docs/architecture.md,
"Buckets", says why this client): any S3-compatible endpoint (``AWS_ENDPOINT_URL``, or config's
``s3_endpoint_url``), credentials only from the standard AWS sources, which obstore reads
itself, so none is ever in a config, a log or a manifest.

An object is listed once per run, a page of 1,000 keys a request; its size and
last-modified date stand for a file's size and mtime (rows, plan files), so a rerun reads
nothing but the listing when nothing changed. A shard job gets the objects of its own
images, one request each. obstore is imported only for a bucket: local folders need it not.
"""

import functools
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from imageprep.image.diagnose import OutputError, SourceError

SCHEME = "s3://"
# Retried where retrying helps (a throttled or dropped connection, 5xx), briefly: a wrong
# endpoint must fail in seconds, not hang a run.
RETRY: dict[str, Any] = {"max_retries": 4, "retry_timeout": timedelta(seconds=30)}
_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
_NO_BUCKET = "<Code>NoSuchBucket</Code>"
_WHY = {
    "NoSuchBucket": "the bucket does not exist",
    "AccessDenied": "access denied (check the AWS credentials and the bucket's policy)",
    "InvalidAccessKeyId": "the AWS access key is not known to the endpoint",
    "SignatureDoesNotMatch": "the AWS secret key does not match the access key",
    "SlowDown": "the endpoint throttles requests (retried; try fewer cores)",
}


def is_bucket(path: str | os.PathLike) -> bool:
    return os.fspath(path).startswith(SCHEME)


@dataclass(frozen=True)
class Bucket:
    """``url``: s3://bucket/prefix. Picklable (a pool worker makes its own client)."""

    url: str

    @property
    def name(self) -> str:
        return self.url[len(SCHEME) :].split("/", 1)[0]

    @property
    def prefix(self) -> str:
        parts = self.url[len(SCHEME) :].rstrip("/").split("/", 1)
        return parts[1] if len(parts) > 1 else ""

    @cached_property
    def _store(self) -> Any:
        from obstore.store import S3Store

        config: dict[str, str] = {}
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
        if endpoint.startswith("http://"):
            config["allow_http"] = "true"  # a local test server (moto), or a private gateway
        if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
            config["region"] = "us-east-1"  # the S3 API's default; most gateways ignore it
        return S3Store(self.name, prefix=self.prefix or None, config=config, retry_config=RETRY)

    def explain(self, exc: Exception, url: bool = True) -> str:
        """One line: the bucket (``url``) and the cause, from what the endpoint or the client
        said."""
        text = str(exc)
        code = _CODE.search(text)
        if code:
            why = _WHY.get(code.group(1), code.group(1))
        elif "error sending request" in text or "Connection refused" in text:
            why = f"cannot reach {os.environ.get('AWS_ENDPOINT_URL') or 'the S3 endpoint'}"
        else:
            why = text.splitlines()[0][:200]
        return f"{self.url}: {why}" if url else why

    def list(self, suffixes: Iterable[str]) -> Iterator[tuple[str, int, int]]:
        """(key relative to the prefix, size, last-modified in ns) of every object whose name,
        lower-cased, ends in one of ``suffixes`` (scan.suffixes), one request per 1,000 keys.
        Raises SourceError."""
        wanted = tuple(suffixes)
        return (obj for obj in self.objects() if obj[0].lower().endswith(wanted))

    def objects(self) -> Iterator[tuple[str, int, int]]:
        """(key relative to the prefix, size, last-modified in ns) of every object under the
        prefix, one request per 1,000 keys. Raises SourceError."""
        import obstore

        try:
            for page in obstore.list(self._store, chunk_size=1000):
                for meta in page:
                    yield meta["path"], meta["size"], _ns(meta["last_modified"])
        except Exception as exc:  # obstore's errors: one line naming the bucket
            raise SourceError(self.explain(exc)) from None

    def head(self, rel: str) -> tuple[int, int] | None:
        """The object's size and last-modified date (ns), None when there is none."""
        import obstore

        try:
            meta = obstore.head(self._store, rel)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise OutputError(f"{self.url}/{rel}", self.explain(exc, url=False)) from None
        return meta["size"], _ns(meta["last_modified"])

    def put(
        self,
        rel: str,
        data: bytes | str | os.PathLike,
        create: bool = False,
        if_match: str | None = None,
    ) -> None:
        """Write an object whole: from bytes, or from a local file (a tar: sent in parts
        over 10 MiB, and a failed upload is aborted, so no half-object is ever seen).
        ``create``: only if there is none (a conditional put), else FileExistsError;
        ``if_match``: only if the object still has this ETag, else FileExistsError.
        The environment's failures (denied, unreachable) raise OutputError: they fail the run.
        """
        import obstore

        where = f"{self.url}/{rel}"
        source = Path(data) if isinstance(data, str | os.PathLike) else data
        mode: Any = "create" if create else "overwrite"
        if if_match is not None:
            mode = {"e_tag": if_match}
        try:
            obstore.put(self._store, rel, source, mode=mode, chunk_size=10 * 1024 * 1024)
        except Exception as exc:
            if type(exc).__name__ in ("AlreadyExistsError", "PreconditionError"):
                raise FileExistsError(where) from None
            raise OutputError(where, self.explain(exc, url=False)) from None

    def delete(self, rel: str) -> None:
        """Remove an object (none there: nothing to do)."""
        import obstore

        try:
            obstore.delete(self._store, rel)
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise OutputError(f"{self.url}/{rel}", self.explain(exc, url=False)) from None

    def get_object(self, rel: str) -> tuple[bytes, str, int] | None:
        """The object's bytes, ETag and last-modified date (ns), None when there is none;
        SourceError for the rest (a missing bucket too)."""
        import obstore

        try:
            result = obstore.get(self._store, rel)
            meta = result.meta
            return bytes(result.bytes()), meta["e_tag"] or "", _ns(meta["last_modified"])
        except FileNotFoundError as exc:
            if _NO_BUCKET in str(exc):  # the bucket's own 404: not an object's
                raise SourceError(self.explain(exc)) from None
            return None
        except Exception as exc:
            raise SourceError(self.explain(exc)) from None

    def get_file(self, rel: str, into: Path) -> None:
        """The object's bytes into a local file, streamed (a tar). FileNotFoundError when
        there is none; SourceError for the rest."""
        import obstore

        try:
            with open(into, "wb") as fh:
                for chunk in obstore.get(self._store, rel).stream():
                    fh.write(chunk)
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.url}/{rel}") from None
        except OSError as exc:  # the spool's disk
            raise OutputError(into, exc.strerror or str(exc)) from None
        except Exception as exc:
            raise SourceError(self.explain(exc)) from None

    def get(self, rel: str) -> bytes:
        """The object's bytes. FileNotFoundError when it is gone (the image's problem: it was
        deleted since the listing); SourceError for the rest."""
        if (found := self.get_object(rel)) is None:
            raise FileNotFoundError(f"{self.url}/{rel}: deleted since the listing")
        return found[0]


@functools.lru_cache(maxsize=8)
def bucket_for(url: str) -> Bucket:
    """One Bucket (one client, one connection pool) per url in a process."""
    return Bucket(url.rstrip("/"))


def _ns(modified: Any) -> int:
    """A listed date in ns, to the microsecond (as a file's mtime would be compared)."""
    return round(modified.timestamp() * 1_000_000) * 1000
