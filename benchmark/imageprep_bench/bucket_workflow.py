"""The workflow between buckets (bucket_study.py --workflow N): N small images from a bucket
into a bucket, against the same from a local folder into a local folder, for Snakemake
(--cores 2) and the pool (--workers 2), with files and with tars: the first run, a no-op
rerun and one image changed, each with the requests it made (counted in the server's log).
In the same run, the floor of the server (bare keep-alive GETs and PUTs, unsigned) and
obstore's own cost per request, so the first run's time can be split between the server,
the client and imageprep: a local test server is slower than a real one, so the split is
the figure, not the total. With ``--storage``, also Snakemake with a default storage
provider (snakemake-storage-plugin-s3, as on a cluster without a shared file system),
between buckets, with its requests to the storage counted apart."""

import http.client
import io
import os
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

BUCKET = "bucket-study"
STORAGE = f"{BUCKET}-storage"  # Snakemake's default storage (--storage)
STEPS = ("first run", "nothing changed", "one image changed")
FLOOR = 1000  # requests timed for each floor


def requests(log: Path) -> list[str]:
    """The request lines the moto server logged ("GET /bucket/key HTTP/1.1"), in order."""
    return [line.split('"')[1] for line in log.read_text().splitlines() if "HTTP/1.1" in line]


def kinds(asked: list[str]) -> Counter:
    """Requests by kind: list, get, put, lock (the run's lock object), other."""
    count: Counter = Counter()
    for line in asked:
        line = re.sub(r"^\x1b\[[0-9;]*m", "", line)  # moto colours 4xx answers
        if "/.imageprep/lock" in line:
            count["lock"] += 1
        elif "list-type=2" in line:
            count["list"] += 1
        elif line.startswith("GET "):
            count["get"] += 1
        elif line.startswith("PUT "):
            count["put"] += 1
        else:
            count["other"] += 1
    return count


def floors(port: int, keys: list[str], body: bytes) -> dict[str, float]:
    """Seconds per request: the server alone (bare HTTP GET and PUT), and obstore's GET and
    PUT (what the client adds is the difference)."""
    import obstore
    from obstore.store import S3Store

    connection = http.client.HTTPConnection("127.0.0.1", port)

    def bare(method: str, key: str, data: bytes | None) -> None:
        connection.request(method, f"/{BUCKET}/{key}", body=data)
        connection.getresponse().read()

    store = S3Store(BUCKET, config={"endpoint": f"http://127.0.0.1:{port}", "allow_http": "true",
                                    "region": "us-east-1"})  # fmt: skip
    timed = {
        "server get": lambda k: bare("GET", k, None),
        "server put": lambda k: bare("PUT", f"floor/{k}", body),
        "obstore get": lambda k: obstore.get(store, k).bytes(),
        "obstore put": lambda k: obstore.put(store, f"floor/{k}", body),
    }
    found = {}
    some = keys[:FLOOR]
    for what, call in timed.items():
        start = time.perf_counter()
        for key in some:
            call(key)
        found[what] = (time.perf_counter() - start) / len(some)
    return found


def run_matrix(
    count: int, scratch: Path, port: int, log: Path, storage: bool = False
) -> tuple[list, dict]:
    """(rows, floors): a row per engine, container, place and step; each row's requests to
    the data bucket by kind, and to Snakemake's storage as "storage"."""
    import boto3
    import yaml

    from imageprep.run.config import REPO

    env = {**os.environ, "AWS_ACCESS_KEY_ID": "study", "AWS_SECRET_ACCESS_KEY": "study",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    local = scratch / "local"
    local.mkdir()
    for i in range(count):  # small, distinct JPEGs, 64x48
        image = Image.new("RGB", (64, 48), (i % 256, (i // 256) % 256, 120))
        image.save(local / f"img_{i:07d}.jpg", quality=90)
    names = sorted(p.name for p in local.iterdir())
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: client.put_object(
            Bucket=BUCKET, Key=f"raw/{n}", Body=(local / n).read_bytes()), names))  # fmt: skip
    found = floors(port, [f"raw/{n}" for n in names], (local / names[0]).read_bytes())
    engines = {
        "snakemake": [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                      "--configfile", "config.yaml", "--cores", "2", "--quiet"],
        "pool": [sys.executable, str(REPO / "workflow" / "scripts" / "pool.py"),
                 "--configfile", "config.yaml", "--workers", "2"],
    }  # fmt: skip
    if storage:
        client.create_bucket(Bucket=STORAGE)
        engines["snakemake-storage"] = [
            *engines["snakemake"], "--default-storage-provider", "s3",
            "--default-storage-prefix", f"s3://{STORAGE}/run",
            "--storage-s3-endpoint-url", env["AWS_ENDPOINT_URL"],
        ]  # fmt: skip
    rows = []
    case = 0
    for engine, command in engines.items():
        for container in ("files", "webdataset"):
            for where in ("bucket", "local"):
                if engine == "snakemake-storage" and where == "local":
                    continue  # (refused: its jobs may run where a folder is not)
                case += 1
                folder = scratch / f"run-{engine}-{container}-{where}"
                folder.mkdir()
                source, output = (
                    (f"s3://{BUCKET}/raw", f"s3://{BUCKET}/out-{engine}-{container}")
                    if where == "bucket"
                    else (str(local), "out")
                )
                config = {"input_dir": source, "output_dir": output, "size": [32, 24],
                          "container": container}  # fmt: skip
                (folder / "config.yaml").write_text(yaml.safe_dump(config))
                for step in STEPS:
                    if step == "one image changed":  # another image, other pixels, each case
                        changed = io.BytesIO()
                        Image.new("RGB", (64, 48), (255, case * 20, 0)).save(changed, "JPEG")
                        if where == "bucket":
                            client.put_object(Bucket=BUCKET, Key=f"raw/{names[case]}",
                                              Body=changed.getvalue())  # fmt: skip
                        else:
                            (local / names[case]).write_bytes(changed.getvalue())
                    before = len(requests(log))
                    start = time.perf_counter()
                    proc = subprocess.run(command, cwd=folder, env=env, capture_output=True,
                                          text=True)  # fmt: skip
                    seconds = time.perf_counter() - start
                    if proc.returncode != 0:
                        raise SystemExit(f"{engine} {container} {where} {step}:\n"
                                         + proc.stderr[-2000:])  # fmt: skip
                    new = requests(log)[before:] if where == "bucket" else []
                    asked = kinds([line for line in new if f" /{STORAGE}" not in line])
                    asked["storage"] = sum(f" /{STORAGE}" in line for line in new)
                    rows.append((engine, container, where, step, seconds, asked))
    return rows, found


def split(rows: list, found: dict) -> list[str]:
    """Each bucket first run's time: the server (its requests at the floor), the client
    (obstore's cost over the floor), and the rest, beside the same run between folders."""
    local = {(e, c): s for e, c, w, step, s, _ in rows if w == "local" and step == STEPS[0]}
    local |= {("snakemake-storage", c): s for (e, c), s in list(local.items()) if e == "snakemake"}
    lines = []
    for engine, container, where, step, seconds, asked in rows:
        if where != "bucket" or step != STEPS[0]:
            continue
        gets, puts = asked["get"], asked["put"]
        server = gets * found["server get"] + puts * found["server put"]
        client = gets * (found["obstore get"] - found["server get"])
        client += puts * (found["obstore put"] - found["server put"])
        lines.append(
            f"| {engine} | {container} | {seconds:.1f} | {server:.1f} | {client:.1f} | "
            f"{seconds - server - client:.1f} | {local[engine, container]:.1f} |"
        )
    return lines


def report(count: int, rows: list, found: dict, info: dict, command: str) -> str:
    lines = [
        f"# The workflow between buckets: {count:,} images (one moto server)",
        "",
        f"- {info['cpu_model']}, {info['cores']} cores, Python {info['python']}",
        f"- Command: `{command}`",
        "- Floors, per request: " + ", ".join(f"{k} {v * 1000:.2f} ms" for k, v in found.items()),
        "",
        "| engine | container | from → into | step | seconds | list | get | put | lock | other "
        "| storage |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for engine, container, where, step, seconds, asked in rows:
        place = "bucket → bucket" if where == "bucket" else "folder → folder"
        counts = " | ".join(str(asked[k]) if where == "bucket" else "" for k in
                            ("list", "get", "put", "lock", "other", "storage"))  # fmt: skip
        lines.append(f"| {engine} | {container} | {place} | {step} | {seconds:.1f} | {counts} |")
    lines += [
        "",
        "The first run from a bucket into a bucket, split: the server (its GETs and PUTs at",
        "the bare-HTTP floor, one after another: moto answers one at a time), the client",
        "(obstore's cost over that floor) and the rest, beside the same run between folders",
        "(for snakemake-storage, Snakemake's between folders; its storage requests, to the",
        "same server, are in the rest).",
        "",
        "| engine | container | seconds | server | client | rest | folder → folder |",
        "|---|---|---:|---:|---:|---:|---:|",
        *split(rows, found),
    ]
    return "\n".join(lines) + "\n"
