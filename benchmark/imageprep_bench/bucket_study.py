"""Which S3 client reads a bucket's images fastest: obstore (Rust, what imageprep uses) against
boto3, listing and getting the same objects from one S3 API server (moto in server mode, a
process of its own on localhost), with the floor in the same run: a bare keep-alive HTTP GET
of the same objects, unsigned, which is what the server alone costs. A local test server is
slower than a real one, so the split between server and client is the figure, not the total.
With ``--workflow N``: the workflow itself on N small images between buckets and between
folders (bucket_workflow.py).

    python benchmark/bucket_study.py --objects 5000 --gets 1000 --out report.md
    python benchmark/bucket_study.py --workflow 10000 --out workflow.md
"""

import argparse
import http.client
import io
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from .measure import invocation, machine_info, publish

BUCKET = "bucket-study"


def _server(log: Path | None = None) -> tuple[subprocess.Popen, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - the server's
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    for _ in range(600):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return server, port
        time.sleep(0.1)
    server.kill()
    raise SystemExit("moto server did not start")


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def study(objects: int, gets: int) -> list[tuple[str, float, str]]:
    """(what, seconds, note) rows."""
    import boto3
    import obstore
    from obstore.store import S3Store

    server, port = _server()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(AWS_ACCESS_KEY_ID="study", AWS_SECRET_ACCESS_KEY="study")
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        buffer = io.BytesIO()
        Image.new("RGB", (320, 240), (90, 140, 200)).save(buffer, "JPEG")
        body = buffer.getvalue()
        keys = [f"raw/{i:07d}.jpg" for i in range(objects)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: client.put_object(Bucket=BUCKET, Key=k, Body=body), keys))
        store = S3Store(BUCKET, config={"endpoint": endpoint, "allow_http": "true",
                                        "region": "us-east-1"})  # fmt: skip

        def obstore_list() -> int:
            return sum(1 for _ in obstore.list(store, prefix="raw/", chunk_size=1000))

        def boto3_list() -> int:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="raw/")
            return sum(1 for _ in pages)

        def http_get() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port)
            for key in keys[:gets]:
                connection.request("GET", f"/{BUCKET}/{key}")
                connection.getresponse().read()

        rows = []
        for name, lister in (("obstore", obstore_list), ("boto3", boto3_list)):
            seconds, pages = _timed(lister)
            rows.append((f"{name}: list {objects:,} keys", seconds, f"{pages} requests"))
        seconds, _ = _timed(http_get)
        rows.append((f"floor: {gets:,} bare HTTP GETs (the server)", seconds, ""))
        for name, get in (
            ("obstore", lambda k: bytes(obstore.get(store, k).bytes())),
            ("boto3", lambda k: client.get_object(Bucket=BUCKET, Key=k)["Body"].read()),
        ):
            seconds, _ = _timed(lambda get=get: [get(k) for k in keys[:gets]])
            rows.append((f"{name}: {gets:,} GETs, one at a time", seconds, ""))
        return rows
    finally:
        server.terminate()
        server.wait(timeout=30)


def report(rows: list[tuple[str, float, str]], command: str) -> str:
    info = machine_info()
    lines = [
        "# S3 clients against one local S3 API server (moto)",
        "",
        f"- {info['cpu_model']}, {info['cores']} cores, Python {info['python']}",
        f"- Command: `{command}`",
        "",
        "| step | seconds | |",
        "|---|---:|---|",
        *(f"| {what} | {seconds:.2f} | {note} |" for what, seconds, note in rows),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", type=int, default=5000)
    p.add_argument("--gets", type=int, default=1000)
    p.add_argument(
        "--workflow", type=int, metavar="N", help="instead: the workflow on N images, two ways"
    )
    p.add_argument(
        "--storage",
        action="store_true",
        help="with --workflow: also Snakemake with a default storage provider (its requests)",
    )
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    if args.workflow:
        import tempfile

        from .bucket_workflow import report as workflow_report
        from .bucket_workflow import run_matrix

        with tempfile.TemporaryDirectory() as scratch:
            log = Path(scratch, "server.log")
            server, port = _server(log)
            try:
                rows, found = run_matrix(args.workflow, Path(scratch), port, log, args.storage)
            finally:
                server.terminate()
                server.wait(timeout=30)
        command = invocation("bucket_study.py", argv)
        publish(workflow_report(args.workflow, rows, found, machine_info(), command), args.out)
        return 0
    rows = study(args.objects, min(args.gets, args.objects))
    publish(report(rows, invocation("bucket_study.py", argv)), args.out)
    return 0
