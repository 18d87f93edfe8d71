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
from typing import Any

from imageprep.image.diagnose import SourceError

SCHEME = "s3://"
# Retried where retrying helps (a throttled or dropped connection, 5xx), briefly: a wrong
# endpoint must fail in seconds, not hang a run.
RETRY: dict[str, Any] = {"max_retries": 4, "retry_timeout": timedelta(seconds=30)}
_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
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

    def explain(self, exc: Exception) -> str:
        """One line: the bucket and the cause, from what the endpoint or the client said."""
        text = str(exc)
        code = _CODE.search(text)
        if code:
            why = _WHY.get(code.group(1), code.group(1))
        elif "error sending request" in text or "Connection refused" in text:
            why = f"cannot reach {os.environ.get('AWS_ENDPOINT_URL') or 'the S3 endpoint'}"
        else:
            why = text.splitlines()[0][:200]
        return f"{self.url}: {why}"

    def list(self, suffixes: Iterable[str]) -> Iterator[tuple[str, int, int]]:
        """(key relative to the prefix, size, last-modified in ns) of every object whose name,
        lower-cased, ends in one of ``suffixes`` (plan.suffixes), one request per 1,000 keys.
        Raises SourceError."""
        import obstore

        wanted = tuple(suffixes)
        try:
            for page in obstore.list(self._store, chunk_size=1000):
                for meta in page:
                    rel = meta["path"]
                    if rel.lower().endswith(wanted):
                        modified = meta["last_modified"].timestamp()  # to the microsecond
                        yield rel, meta["size"], round(modified * 1_000_000) * 1000
        except Exception as exc:  # obstore's errors: one line naming the bucket
            raise SourceError(self.explain(exc)) from None

    def get(self, rel: str) -> bytes:
        """The object's bytes. FileNotFoundError when it is gone (the image's problem: it was
        deleted since the listing); SourceError for the rest."""
        import obstore

        try:
            return bytes(obstore.get(self._store, rel).bytes())
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.url}/{rel}: deleted since the listing") from None
        except Exception as exc:
            raise SourceError(self.explain(exc)) from None


@functools.lru_cache(maxsize=8)
def bucket_for(url: str) -> Bucket:
    """One Bucket (one client, one connection pool) per url in a process."""
    return Bucket(url.rstrip("/"))
