"""What ``container: webdataset`` costs against ``files``: the same workload through the real
workflow (``snakemake --cores N``) and the pool command, first run, a no-op rerun and a
one-image change, with the files each leaves in the output folder; and whether both paths
wrote the same tars.

    python benchmark/container_study.py --workload many --out report.md
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from imageprep.folder.layout import MANIFEST_CSV, METADATA_CSV, OWN
from imageprep.run.config import DEFAULT_CONFIG, REPO, load_config
from imageprep.run.scan import find_images

from .measure import invocation, machine_info, publish
from .timings import dataset
from .verify import checksums

CONTAINERS = ("files", "webdataset")


def run(command: list[str], cwd: Path) -> float:
    """Seconds the command took; a failure stops the study with its stderr's end."""
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{command[1]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def census(folder: Path) -> dict[str, Any]:
    """Files under ``folder`` (the workflow's bookkeeping included) and their bytes; the
    outputs (images or tars) apart, with their mtimes (to see what a rerun rewrote)."""
    files, total, outputs = 0, 0, {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root, name)
            st = path.stat()
            files, total = files + 1, total + st.st_size
            if OWN not in path.parts and name not in (MANIFEST_CSV, METADATA_CSV):
                outputs[path.relative_to(folder).as_posix()] = st.st_mtime_ns
    return {"files": files, "bytes": total, "outputs": outputs}


def study(input_dir: Path, size: list[int], cores: int, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    snakemake = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
    first = sorted(find_images(input_dir, [".jpg"]))[0]
    for container in CONTAINERS:
        cwd = work / container
        (cwd / "config").mkdir(parents=True)
        config = {"input_dir": str(input_dir), "output_dir": "out", "size": size}
        config["container"] = container
        (cwd / "config" / "config.yaml").write_text(yaml.safe_dump(config))
        sm = [*snakemake, "--directory", str(cwd), "--cores", str(cores), "--quiet", "all"]
        pool = [sys.executable, str(REPO / "workflow/scripts/pool.py"), "--workers", str(cores)]
        pool += ["--configfile", "config/config.yaml"]
        r: dict[str, Any] = {"snakemake first": run(sm, cwd)}
        r["census"] = census(cwd / "out")
        r["pool first"] = run([*pool, "--output-dir", "pool-out"], cwd)
        if container == "webdataset":
            r["same tars"] = checksums(cwd / "out") == checksums(cwd / "pool-out")
        r["snakemake no-op"] = run(sm, cwd)
        results[container] = r
    src = input_dir / first
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # "changed"
    try:
        for container in CONTAINERS:
            cwd, r = work / container, results[container]
            sm = [*snakemake, "--directory", str(cwd), "--cores", str(cores), "--quiet", "all"]
            r["snakemake one changed"] = run(sm, cwd)
            after = census(cwd / "out")["outputs"]
            before = r["census"]["outputs"]
            r["rewritten"] = sorted(k for k in after if before.get(k) != after[k])
    finally:
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    return results


def report(label: str, n: int, cores: int, results: dict[str, Any], command: str) -> str:
    m = machine_info()
    lines = [
        f"# `container: files` against `webdataset`: {label} ({n:,} images)",
        "",
        f"`{command}` on {m['cpu_model']} ({m['cores']} cores, Python {m['python']}, "
        f"Pillow {m['pillow']}, Snakemake {m['snakemake']}), {cores} cores used, one run each.",
        "",
        "| container | snakemake first run s | pool command s | no-op rerun s "
        "| one image changed s | outputs rewritten | files in the folder | MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for container, r in results.items():
        c = r["census"]
        lines.append(
            f"| {container} | {r['snakemake first']:.1f} | {r['pool first']:.1f} | "
            f"{r['snakemake no-op']:.1f} | {r['snakemake one changed']:.1f} | "
            f"{len(r['rewritten'])} | {c['files']:,} | {c['bytes'] / 1e6:.0f} |"
        )
    files, tars = results["files"], results["webdataset"]
    lines += [
        "",
        f"- webdataset / files, first run through Snakemake: "
        f"**{tars['snakemake first'] / files['snakemake first']:.2f}×**; through the pool "
        f"command: {tars['pool first'] / files['pool first']:.2f}×.",
        f"- tars written by Snakemake and by the pool command identical: {tars['same tars']}.",
        f"- one image changed, rewritten: files {files['rewritten'][:3]}, "
        f"tars {tars['rewritten'][:3]}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", default="many", help="a workload of config/config.yaml")
    p.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--out", type=Path, help="also write the report here (Markdown)")
    args = p.parse_args(argv)
    config = load_config(DEFAULT_CONFIG)
    folder = dataset(config, args.workload, args.cores)
    spec = config["workloads"][args.workload]
    size = spec.get("resize_to", config["size"])
    n = len(find_images(folder, config["extensions"]))
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        results = study(folder, list(size), args.cores, Path(tmp).resolve())
    command = invocation("container_study.py", argv)
    text = report(args.workload, n, args.cores, results, command)
    publish(text, args.out)
    return 0
