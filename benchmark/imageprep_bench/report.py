"""The benchmark's reports: the runs aggregated per engine and worker count, timings.csv,
summary.md (with the performance targets as ratios of this run) and the two plots."""

import csv
import statistics
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .engines import SNAKEMAKE_VARIANTS
from .measure import input_spread, machine_info
from .model import BenchPlan, Timing
from .targets import fmt, target_lines

FIELDS = [
    "workload", "engine", "workers", "repeat", "status", "wall_s", "cpu_s", "peak_rss_mb",
    "child_rss_mb", "images", "images_per_s", "speedup", "efficiency", "start_s", "dag_s",
    "ssim", "ssim_image",
    "psnr_db", "detail",
    "cpu_model", "cores", "python", "pillow", "snakemake", "libvips", "resampler",
    "executor_plugins",
    "timestamp",
]  # fmt: skip


def summarize(rows: list[Timing]) -> list[dict[str, Any]]:
    """Median (and range) per engine and worker count, in the order they were run."""
    groups: dict[tuple[str, int], list[Timing]] = {}
    for r in rows:
        groups.setdefault((r.engine, r.workers), []).append(r)
    seq = [r.wall_s for r in rows if r.engine == "sequential" and r.wall_s]
    base = statistics.median(seq) if seq else None
    out = []
    for (engine, workers), group in groups.items():
        timed_rows = [r for r in group if r.wall_s is not None]
        entry: dict[str, Any] = {"engine": engine, "workers": workers, "status": group[0].status}
        entry["detail"] = group[0].detail
        if timed_rows:
            walls = [r.wall_s for r in timed_rows]
            wall = statistics.median(walls)
            entry.update(
                wall_s=wall,
                wall_min=min(walls),
                wall_max=max(walls),
                cpu_s=statistics.median(r.cpu_s for r in timed_rows),
                peak_rss_mb=max(r.peak_rss_mb for r in timed_rows),
                child_rss_mb=max((r.child_rss_mb or 0) for r in timed_rows) or None,
                images_per_s=timed_rows[0].images / wall,
                speedup=base / wall if base else None,
                efficiency=base / wall / workers if base else None,
                psnr_db=timed_rows[0].psnr_db,
                ssim=timed_rows[0].ssim,
                ssim_image=timed_rows[0].ssim_image,
                start_s=timed_rows[0].start_s,
                dag_s=timed_rows[0].dag_s,
            )
            if engine in SNAKEMAKE_VARIANTS and base and entry["dag_s"] is not None:
                # Core time per image beyond the loop's own work, after the DAG was built.
                extra = (wall - entry["dag_s"]) * workers - base
                entry["overhead_ms_per_job"] = 1000 * extra / timed_rows[0].images
        out.append(entry)
    return out


def write_csv(rows: list[Timing], path: Path, machine: dict[str, str]) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for r in rows:
            record = {k: ("" if v is None else v) for k, v in asdict(r).items()}
            for key in ("wall_s", "cpu_s", "peak_rss_mb", "images_per_s", "speedup"):
                if record[key] != "":
                    record[key] = f"{record[key]:.4f}"
            writer.writerow({**record, **machine, "timestamp": stamp})


def write_summary(
    summary: list[dict[str, Any]],
    plan: BenchPlan,
    machine: dict[str, str],
    path: Path,
    command: str,
) -> None:
    spec = plan.spec
    lines = [
        f"# Benchmark `{plan.workload}`: {len(plan.relpaths)} images → "
        f"{spec.size[0]}×{spec.size[1]} ({spec.mode}, {spec.resample}, format {spec.format})",
        "",
        f"- Machine: {machine['cpu_model']}, {machine['cores']} cores; Python "
        f"{machine['python']}, Pillow {machine['pillow']}, Snakemake {machine['snakemake']}, "
        f"libvips {machine['libvips']}; resampler {machine['resampler']}; Snakemake executor "
        "plugins installed: "
        f"{machine['executor_plugins']}",
        f"- Input: `{plan.input_dir}`: {input_spread(plan.input_dir, plan.relpaths)}; "
        f"{plan.repeats} repeat(s), median shown [min–max]",
        f"- Command: `{command}`",
        "- SSIM / PSNR: worst image (named), against our transform with every JPEG pixel "
        "decoded (jpeg_draft off, LANCZOS); SSIM on luma, 7×7 windows. `sequential`: the "
        "JPEG draft's own cost, both written lossless (PNG); outside references: their "
        "files against ours in the configured format.",
        "",
        "| engine | workers | wall s | CPU s | peak RSS MB | images/s | speed-up | efficiency "
        "| SSIM / PSNR dB vs full decode | outputs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in summary:
        wall = (
            f"{s['wall_s']:.2f} [{s['wall_min']:.2f}–{s['wall_max']:.2f}]" if "wall_s" in s else "–"
        )
        status = {"FAILED": f"**FAILED**: {s['detail']}", "reference": "other library"}.get(
            s["status"], "identical bytes"
        )
        if s["engine"] == "sequential":
            status = "reference bytes"
        closeness = "–"
        if s.get("ssim") is not None:
            closeness = f"{fmt(s['ssim'], '.4f')} / {fmt(s.get('psnr_db'), '.1f')}"
            if s.get("ssim_image") and s["ssim"] < 1:
                closeness += f" (worst: `{s['ssim_image']}`)"
        lines.append(
            f"| {s['engine']} | {s['workers']} | {wall} | {fmt(s.get('cpu_s'))} "
            f"| {fmt(s.get('peak_rss_mb'), '.0f')} | {fmt(s.get('images_per_s'), '.1f')} "
            f"| {fmt(s.get('speedup'), '.2f', '×')} | {fmt(s.get('efficiency'), '.0%')} "
            f"| {closeness} | {status} |"
        )
    pool = [f"N={s['workers']}: {s['detail']}" for s in summary if s["engine"] == "process-pool"]
    notes = [f"- `process-pool` settings: {'; '.join(pool)}"] if pool else []
    for s in summary:
        if "overhead_ms_per_job" in s:
            notes.append(
                f"- `{s['engine']}` N={s['workers']}: {s['dag_s']:.2f} s before the first job "
                f"(dry run: parse, discovery, DAG), then {s['overhead_ms_per_job']:.0f} ms of "
                "extra core time per image beyond the loop's own work (job start-up, "
                f"scheduling, bookkeeping); Snakemake {s['detail'].replace('=', ': ')}"
            )
    lines += [
        "",
        *notes,
        "",
        "## Targets (ratios measured in this run)",
        "",
        *target_lines(summary),
    ]
    path.write_text("\n".join(lines) + "\n")


def plot(
    summary: list[dict[str, Any]], plan: BenchPlan, speedup_png: Path, throughput_png: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed_entries = [s for s in summary if "wall_s" in s and s.get("speedup")]
    engines = list(dict.fromkeys(s["engine"] for s in timed_entries))
    title = f"{plan.workload}: {len(plan.relpaths)} images"
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    top = max(plan.workers)
    ax.plot([1, top], [1, top], "k--", linewidth=1, label="ideal (linear)")
    for engine in engines:
        pts = sorted((s["workers"], s["speedup"]) for s in timed_entries if s["engine"] == engine)
        ax.plot(*zip(*pts, strict=True), marker="o", label=engine)
    ax.set(xlabel="workers / cores (N)", ylabel="speed-up over sequential loop", title=title)
    ax.set_xticks(range(1, top + 1))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(speedup_png, dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    width = 0.8 / max(1, len(plan.workers))
    for i, workers in enumerate(plan.workers):
        rate = {s["engine"]: s["images_per_s"] for s in timed_entries if s["workers"] == workers}
        values = [rate.get(e, 0) for e in engines]
        ax.bar([x + i * width for x in range(len(engines))], values, width, label=f"N={workers}")
    ax.set_xticks([x + width * (len(plan.workers) - 1) / 2 for x in range(len(engines))])
    ax.set_xticklabels(engines, rotation=15)
    ax.set(ylabel="images per second", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(throughput_png, dpi=120)
    plt.close(fig)


def write_reports(rows: list[Timing], plan: BenchPlan, out_dir: Path, command: str) -> None:
    """timings.csv, summary.md, speedup.png and throughput.png in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    summary = summarize(rows)
    write_csv(rows, out_dir / "timings.csv", machine)
    write_summary(summary, plan, machine, out_dir / "summary.md", command)
    plot(summary, plan, out_dir / "speedup.png", out_dir / "throughput.png")
