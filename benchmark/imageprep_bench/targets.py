"""The benchmark's performance targets, as data (each a bound on a ratio between engines, or
an amount, measured in one run), and the lines of summary.md that hold a run against them."""

from dataclasses import dataclass
from typing import Any

from .engines import OUTSIDE_REFERENCE


@dataclass(frozen=True)
class Target:
    """A performance target: a bound on a ratio (or an amount) measured by the benchmark."""

    op: str  # ≥, ≤ or <
    bound: str  # as it is written, e.g. "1.10"
    unit: str = "×"
    workload: str | None = None  # the workload it is set for; None: any

    @property
    def value(self) -> float:
        return float(self.bound)

    @property
    def limit(self) -> str:
        return f"{self.op} {self.bound}{self.unit}"

    def __str__(self) -> str:
        where = f" on {self.workload}:" if self.workload else ""
        return f"target{where} {self.limit}"


TARGETS = {
    "pool_speedup": Target("≥", "1.8"),  # process-pool N=all vs the sequential loop
    "snakemake_vs_pool": Target("≤", "1.25", workload="seed"),  # wall of snakemake / pool
    "snakemake_from_first_job": Target("≤", "1.10", workload="seed"),  # same, after the DAG
    "snakemake_vs_command": Target("≤", "1.15", workload="many"),  # vs pool.py, both whole
    # single-core throughput of our loop vs libvips' thumbnail (issue 26), per workload
    "loop_vs_pyvips_seed": Target("≥", "1.5", workload="seed"),
    "loop_vs_pyvips_camera": Target("≥", "1.2", workload="camera"),
    "loop_vs_pyvips_real": Target("≥", "1.05", workload="real"),
    # end to end at N workers, libvips' thumbnail in a pool vs our two paths
    "command_vs_pyvips": Target("≥", "1.5", workload="seed"),
    "snakemake_vs_pyvips": Target("≥", "1.0", workload="seed"),
    "draft_ssim": Target("≥", "0.99", unit=""),  # our loop's SSIM against a full decode
    "ours_vs_article": Target("≥", "3", workload="camera"),  # fastest of ours vs article-loop
    "worker_rss": Target("≤", "300", unit=" MB"),  # peak RSS of one process-pool worker
    "dry_run_wall": Target("<", "60", unit=" s"),  # `snakemake -n` at scale (scale.py)
    "dry_run_rss": Target("<", "1", unit=" GB"),
    "noop_rerun_wall": Target("<", "30", unit=" s", workload="100,000 images"),
    "slurm_job_overhead": Target("≤", "3", unit=" s"),  # a shard job's RunTime minus its work
}


def fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def _per_workload(prefix: str) -> str:
    """The targets of one ratio that differ by workload, e.g. "targets ≥ 1.5× on seed, ..."."""
    found = [t for key, t in TARGETS.items() if key.startswith(prefix + "_")]
    return "targets " + ", ".join(f"{t.limit} on {t.workload}" for t in found)


def target_lines(summary: list[dict[str, Any]]) -> list[str]:
    """The performance targets, each as a ratio between engines of this one run."""
    by = {(s["engine"], s["workers"]): s for s in summary if "wall_s" in s}
    if not by:
        return ["- no engine was timed"]
    top = max(workers for _, workers in by)
    seq, pool = by.get(("sequential", 1)), by.get(("process-pool", top))
    smk, vips, vips_top = by.get(("snakemake", top)), by.get(("pyvips", 1)), by.get(("pyvips", top))
    command = by.get(("pool-command", top))
    article = by.get(("article-loop", 1))
    t = TARGETS
    lines = []
    if seq and pool:
        ratio = seq["wall_s"] / pool["wall_s"]
        lines.append(
            f"- process-pool N={top} vs sequential: {ratio:.2f}× faster ({t['pool_speedup']})"
        )
    if smk and pool:
        ratio = smk["wall_s"] / pool["wall_s"]
        lines.append(
            f"- snakemake N={top} wall / process-pool N={top} wall: {ratio:.2f}× "
            f"({t['snakemake_vs_pool']})"
        )
        lines += floor_lines(smk, pool)
    if smk and command:
        ratio = smk["wall_s"] / command["wall_s"]
        lines.append(
            f"- snakemake N={top} wall / pool-command N={top} wall (both whole commands, "
            f"both writing manifest.csv): {ratio:.2f}× ({t['snakemake_vs_command']})"
        )
    if seq and vips:
        ratio = vips["wall_s"] / seq["wall_s"]
        lines.append(
            f"- single-core throughput, our loop vs pyvips N=1: {ratio:.2f}× "
            f"({_per_workload('loop_vs_pyvips')}), our SSIM vs full decode ≥ "
            f"{fmt(seq.get('ssim'), '.4f')} ({t['draft_ssim']}; worst image: "
            f"`{seq.get('ssim_image') or '–'}`)"
        )
    for ours_engine, key in ((command, "command_vs_pyvips"), (smk, "snakemake_vs_pyvips")):
        if ours_engine and vips_top and top > 1:
            ratio = vips_top["wall_s"] / ours_engine["wall_s"]
            lines.append(
                f"- end to end, {ours_engine['engine']} N={top} vs pyvips N={top} (libvips' "
                f"thumbnail in a process pool): {ratio:.2f}× faster ({t[key]})"
            )
    ours = [s for (e, _), s in by.items() if e not in OUTSIDE_REFERENCE]
    if article and ours:
        best = min(ours, key=lambda s: s["wall_s"])
        ratio = article["wall_s"] / best["wall_s"]
        lines.append(
            f"- fastest of ours ({best['engine']} N={best['workers']}) vs article-loop: "
            f"{ratio:.2f}× faster ({t['ours_vs_article']})"
        )
    workers = [s["child_rss_mb"] for (e, _), s in by.items() if e == "process-pool"]
    if any(workers):
        lines.append(
            f"- peak RSS of one process-pool worker: {max(w or 0 for w in workers):.0f} MB "
            f"({t['worker_rss']})"
        )
    return lines


def floor_lines(smk: dict[str, Any], pool: dict[str, Any]) -> list[str]:
    """What Snakemake costs before its first job, against the budget its wall target over the
    pool's leaves: when that alone exceeds it, no rule design can meet the target on this run."""
    if smk.get("start_s") is None or smk.get("dag_s") is None:
        return []
    budget = (TARGETS["snakemake_vs_pool"].value - 1) * pool["wall_s"]
    after_start = (smk["wall_s"] - smk["dag_s"]) / pool["wall_s"]
    verdict = "exceeds" if smk["dag_s"] > budget else "fits in"
    return [
        f"  - the target leaves {budget:.2f} s for all of Snakemake's overhead; the time before "
        f"its first job ({smk['dag_s']:.2f} s: a dry run, i.e. Python and Snakemake's import, "
        f"{smk['start_s']:.2f} s of it, then parsing, discovery and the DAG) {verdict} it",
        f"  - from its first job on, snakemake takes {after_start:.2f}× the process-pool wall "
        f"({TARGETS['snakemake_from_first_job']})",
    ]
