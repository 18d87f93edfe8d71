"""The workflow at scale, as shipped: ``benchmark.py --dry-run-scale N`` times ``snakemake
-n`` (parse, discovery, plan files, DAG) over N empty image files; ``--rerun-scale N`` runs
the workflow over N tiny real images, then times each kind of rerun and counts, from the
shard jobs' own logs, how many images each one resized."""

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from imageprep.folder.layout import LOGS
from imageprep.image.synthetic import photo_like
from imageprep.run.config import REPO
from imageprep.run.shards import images_per_job, shard_count

from .engines import Task, write_run_config
from .measure import machine_info, timed
from .targets import TARGETS


def empty_images(n_images: int) -> Path:
    """n empty .jpg files, 1000 a folder like a real large collection (made once, cached)."""
    return _images(n_images, "dry-run", b"")


def tiny_jpeg(seed: int) -> bytes:
    """A 64×48 photo-like JPEG (~1 kB)."""
    buffer = io.BytesIO()
    photo_like(64, 48, seed).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def tiny_images(n_images: int) -> Path:
    """n copies of one tiny JPEG, 1000 a folder (made once, cached)."""
    return _images(n_images, "rerun", tiny_jpeg(0))


def _images(n_images: int, kind: str, data: bytes) -> Path:
    folder = Path("resources") / "datasets" / f"{kind}-{n_images}"
    if not (folder / ".complete").exists():
        for i in range(n_images):
            path = folder / f"{i // 1000:03d}" / f"img_{i:07d}.jpg"
            if i % 1000 == 0:
                path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        (folder / ".complete").touch()
    return folder


def _task(folder: Path, scratch: Path, config: dict[str, Any], **spec: Any) -> Task:
    from imageprep.image.spec import ResizeSpec

    keys = set(ResizeSpec.__dataclass_fields__) | {"extensions", "images_per_job"}
    settings = {k: config[k] for k in keys if k in config} | spec
    return Task(folder.resolve(), (scratch / "out").resolve(), [], ResizeSpec(), settings,
                scratch.resolve())  # fmt: skip


def _snakemake(task: Task, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(task.workdir), "--cores", "2", *args]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def dry_run_scale(n_images: int, config: dict[str, Any], out_dir: Path) -> str:
    """Time ``snakemake -n`` (parse, discovery, plan files, DAG) on n empty image files."""
    folder = empty_images(n_images)
    scratch = out_dir / "scratch-dry-run"
    shutil.rmtree(scratch, ignore_errors=True)
    task = _task(folder, scratch, config)
    write_run_config(task)
    _, wall, _, rss = timed(lambda: _snakemake(task, "--dry-run") and {})
    shutil.rmtree(scratch, ignore_errors=True)
    shards = shard_count(n_images, images_per_job(config["images_per_job"], n_images))
    targets = f"{TARGETS['dry_run_wall'].limit}, {TARGETS['dry_run_rss'].limit}"
    report = (
        f"# Dry run at scale\n\n- `snakemake -n` over {n_images:,} images (empty files, "
        f"{shards} shard jobs of about {n_images // shards:,} images, profiles/default): "
        f"{wall:.1f} s wall, {rss.peak / 2**20:.0f} MB peak RSS of the snakemake process tree "
        f"(targets: {targets}); {_machine()}\n"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dry-run-scale.md").write_text(report)
    return report


def _machine() -> str:
    m = machine_info()
    return (
        f"{m['cpu_model']}, {m['cores']} cores, Snakemake {m['snakemake']} "
        f"(executor plugins: {m['executor_plugins']})"
    )


def _resized(task: Task) -> tuple[int, int]:
    """(images resized, shard jobs run) by the shard jobs' own last log lines; logs are
    cleared before each step, so only the jobs of that step count."""
    logs = list((task.output_dir / LOGS / "resize").glob("shard-*.log"))
    total = 0
    for log in logs:
        last = log.read_text().splitlines()[-1]
        total += int(re.search(r"(\d+) resized", last)[1])  # type: ignore[index]
    return total, len(logs)


def rerun_scale(n_images: int, config: dict[str, Any], out_dir: Path) -> str:
    """The first run over n tiny images, then every kind of rerun, each timed, with the
    images it resized (from the jobs' logs): nothing changed, one image added, one changed,
    one output deleted, and the spec changed."""
    folder = tiny_images(n_images)
    scratch = out_dir / "scratch-rerun"
    shutil.rmtree(scratch, ignore_errors=True)
    task = _task(folder, scratch, config, size=[32, 24])
    write_run_config(task)
    added = folder / "000" / "added.jpg"
    changed = folder / "000" / "img_0000001.jpg"
    original = changed.read_bytes()
    deleted = task.output_dir / "000" / "img_0000002.jpg"
    steps = [
        ("first run", lambda: None, ()),
        ("nothing changed (dry run)", lambda: None, ("--dry-run",)),
        ("nothing changed", lambda: None, ()),
        ("one image added", lambda: shutil.copyfile(changed, added), ()),
        ("one image changed", lambda: changed.write_bytes(tiny_jpeg(1)), ()),
        ("one output deleted", lambda: deleted.unlink(), ()),
    ]
    rows = []
    try:
        for name, change, args in steps:
            change()
            shutil.rmtree(task.output_dir / LOGS, ignore_errors=True)
            proc, wall, _, rss = timed(lambda a=args: {"proc": _snakemake(task, *a)})
            resized, jobs = _resized(task)
            if "--dry-run" in args:
                planned = "Nothing to be done" not in proc["proc"].stdout
                resized, jobs = 0, "some planned" if planned else "none planned"
            rows.append((name, wall, rss.peak / 2**20, resized, jobs))
    finally:
        added.unlink(missing_ok=True)
        changed.write_bytes(original)
    shards = shard_count(n_images, images_per_job(config["images_per_job"], n_images))
    lines = [
        f"# Reruns at scale: {n_images:,} images",
        "",
        f"- {n_images:,} copies of one 64×48 JPEG → 32×24, {shards} shard jobs, "
        f"`snakemake --cores 2` (profiles/default); {_machine()}",
        f"- Command: `python workflow/scripts/benchmark.py --rerun-scale {n_images}`",
        "- Images resized: the sum over the shard jobs that ran of their log's count "
        "(`shard …: N images, K resized, M current, …`)",
        "",
        "| step | wall s | peak RSS MB | images resized | shard jobs run |",
        "|---|---:|---:|---:|---:|",
        *(f"| {s} | {w:.1f} | {r:.0f} | {n:,} | {j} |" for s, w, r, n, j in rows),
        "",
        f"Target for the no-op decision at 100,000 images: {TARGETS['noop_rerun_wall'].limit}.",
    ]
    shutil.rmtree(scratch, ignore_errors=True)
    report = "\n".join(lines) + "\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"rerun-scale-{n_images}.md").write_text(report)
    return report


def _run_time_s(job_id: str) -> int | None:
    """A SLURM job's RunTime (whole seconds) from the controller, which remembers a finished
    job for MinJobAge (300 s by default); no accounting database is needed."""
    proc = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True,
                          text=True)  # fmt: skip
    match = re.search(r"RunTime=(?:(\d+)-)?(\d+):(\d+):(\d+)", proc.stdout)
    if not match:
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def slurm_overhead(n_images: int, config: dict[str, Any], out_dir: Path) -> str:
    """Each submitted shard job's own overhead on SLURM: its RunTime (the controller's)
    minus its images' work (its log's resizing time): the node's Snakemake start, its
    parse of the workflow (no scan: the job reads its plan file), the job command's start."""
    folder = tiny_images(n_images)
    scratch = out_dir / f"scratch-slurm-{n_images}"
    shutil.rmtree(scratch, ignore_errors=True)
    task = _task(folder, scratch, config, size=[32, 24])
    write_run_config(task)
    profile = ("--profile", str(REPO / "profiles" / "slurm"))
    info, wall, _, _ = timed(
        lambda: {
            "proc": _snakemake(task, *profile, "--slurm-init-seconds-before-status-checks", "1")
        }
    )
    proc = info["proc"]
    ids = re.findall(r"has been submitted with SLURM jobid (\d+)", proc.stderr)
    run_times = [t for t in map(_run_time_s, ids) if t is not None]
    work = []
    for log in (task.output_dir / LOGS / "resize").glob("shard-*.log"):
        work.append(float(re.search(r"resizing ([\d.]+) s", log.read_text())[1]))  # type: ignore[index]
    overhead = (sum(run_times) - sum(work)) / max(1, len(run_times))
    shutil.rmtree(scratch, ignore_errors=True)
    line = (
        f"| {n_images:,} | {len(ids)} | {1000 * len(ids) / n_images:.2f} | "
        f"{sum(run_times) / max(1, len(run_times)):.2f} | {max(run_times, default=0)} | "
        f"{sum(work) / max(1, len(work)):.2f} | {overhead:.2f} | {wall:.0f} |"
    )
    return line


def slurm_overhead_report(sizes: list[int], config: dict[str, Any], out_dir: Path) -> str:
    rows = [slurm_overhead(n, config, out_dir) for n in sizes]
    lines = [
        "# SLURM: each shard job's own overhead",
        "",
        f"- Tiny images (one 64×48 JPEG → 32×24), profiles/slurm, the test cluster "
        f"(tests/cluster/up.sh: slurmctld and one slurmd on this machine); {_machine()}",
        "- Command: `python workflow/scripts/benchmark.py --slurm-overhead "
        + " ".join(map(str, sizes))
        + "`",
        "- RunTime: the controller's, whole seconds (`scontrol show job`); resizing: the job's "
        "own log. Overhead = mean RunTime minus mean resizing time per job.",
        "",
        "| images | submissions | per 1,000 images | mean RunTime s | max RunTime s "
        "| mean resizing s | overhead s per job | run wall s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Target: {TARGETS['slurm_job_overhead']}, flat in the number of images.",
    ]
    report = "\n".join(lines) + "\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "slurm-overhead.md").write_text(report)
    return report
