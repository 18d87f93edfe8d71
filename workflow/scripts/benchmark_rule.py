"""Rule script of `benchmark_engines` (workflow/rules/benchmark.smk): the benchmark of one
workload as a Snakemake target, on the outer run's config, its progress in the rule's log.
An engine that fails is marked FAILED in summary.md; the rule itself still succeeds."""

import sys
from pathlib import Path

# The benchmark lives in benchmark/ at the checkout's root, outside the product package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmark"))

from imageprep_bench.timings import build_plan, run_and_report

smk = snakemake  # noqa: F821  (injected by Snakemake's script: directive)
with open(smk.log[0], "w", buffering=1) as log:
    sys.stderr = log
    workload = smk.wildcards.workload
    plan = build_plan(dict(smk.config), workload, Path(smk.input[0]), Path(smk.params.scratch))
    out_dir = Path(smk.output.csv).parent
    rows = run_and_report(plan, out_dir, f"snakemake --cores all {smk.rule}", progress=True)
    if any(r.status == "FAILED" for r in rows):
        print("some engines FAILED: see summary.md", file=log)
