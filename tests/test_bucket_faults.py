"""A throttled or dropped connection to the bucket: the runs reach the test server through a
real HTTP proxy on localhost that answers some requests with S3's 503 SlowDown, or closes
the connection unanswered. A fault that passes is retried (the run gives the bytes of a
clean one); one that lasts stops the run in one line naming the bucket and the cause."""

import http.client
import http.server
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from helpers import digests, run_pool, run_snakemake, write_config

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


@contextmanager
def faulty_proxy(target: str, fault: Callable[[str, str], str | None]) -> Iterator[str]:
    """An HTTP proxy to ``target`` (host:port); ``fault(method, path)`` says what to do with
    a request: None (forward it), "slow" (503 SlowDown) or "drop" (close, unanswered)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            what = fault(self.command, self.path)
            if what == "drop":
                self.close_connection = True
                return
            if what == "slow":
                self.send_response(503)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(SLOW_DOWN)))
                self.end_headers()
                self.wfile.write(SLOW_DOWN)
                return
            upstream = http.client.HTTPConnection(target, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            upstream.close()

        do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _any

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def first_tries(kind: str, times: int) -> Callable[[str, str], str | None]:
    """``kind`` for the first ``times`` GETs of each image, then answers."""
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def fault(method: str, path: str) -> str | None:
        if method != "GET" or not re.search(r"\.jpg$", path):
            return None
        with lock:
            seen[path] = seen.get(path, 0) + 1
            return kind if seen[path] <= times else None

    return fault


@pytest.mark.parametrize("kind", ["slow", "drop"])
@pytest.mark.parametrize("run", [run_snakemake, run_pool])
def test_a_fault_that_passes_is_retried(workdir, bucket, s3, monkeypatch, kind, run):
    write_config(workdir, input_dir="photos", output_dir="clean", size=[64, 64])
    run_snakemake(workdir)
    with faulty_proxy(s3.env["AWS_ENDPOINT_URL"][len("http://") :], first_tries(kind, 2)) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        write_config(workdir, input_dir=bucket, output_dir="through", size=[64, 64])
        run(workdir)
    made, clean = digests(workdir / "through"), digests(workdir / "clean")
    assert {k: v for k, v in made.items() if k.endswith(".jpg")} == {
        k: v for k, v in clean.items() if k.endswith(".jpg")
    }
    assert len(made) > 8


@pytest.mark.parametrize("kind", ["slow", "drop"])
def test_a_fault_that_lasts_stops_the_run_in_one_line(workdir, bucket, s3, monkeypatch, kind):
    target = s3.env["AWS_ENDPOINT_URL"][len("http://") :]
    with faulty_proxy(target, first_tries(kind, 10**6)) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        write_config(workdir, input_dir=bucket, output_dir="through", size=[64, 64])
        for run in (run_pool, run_snakemake):
            proc = run(workdir, check=False)
            assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
            said = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
            assert said and all(bucket in line for line in said), proc.stderr[-3000:]
            cause = "throttles requests (retried" if kind == "slow" else "cannot reach"
            assert any(cause.lower() in line.lower() for line in said), said
