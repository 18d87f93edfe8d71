# The companion benchmark as targets: `snakemake --cores all benchmark` runs the workload
# named in config (benchmark.workload) through every engine (imageprep_bench; the command
# line is workflow/scripts/benchmark.py, this rule's script benchmark_rule.py).
#
# The benchmark job starts Snakemake again (the `snakemake` engine) and times pools that
# use every core, so it must not share the machine with other jobs: it is a local job
# that claims all cores (threads: ALL_CORES), and the outer Snakemake starts nothing
# else while it runs. The inner Snakemake runs in its own scratch folder, with its own
# .snakemake metadata and lock.
#
# Standalone only: a module leaves the benchmark out (it times this checkout's own
# Snakefile with its profiles, and two instances would write the same reports).


if STANDALONE:

    rule dataset:
        output:
            directory("resources/datasets/{workload}"),
        log:
            "logs/dataset/{workload}.log",
        conda:
            "../envs/imageprep.yaml"
        threads: ALL_CORES
        params:
            workload=lambda wildcards: config["workloads"][wildcards.workload],
        script:
            "../scripts/synthetic.py"

    rule benchmark_engines:
        input:
            workload_folder,
        output:
            csv=f"{BENCHMARK_DIR}/{{workload}}/timings.csv",
            summary=report(
                f"{BENCHMARK_DIR}/{{workload}}/summary.md",
                caption="../report/summary.rst",
                category="Benchmark",
                subcategory="{workload}",
            ),
            speedup=report(
                f"{BENCHMARK_DIR}/{{workload}}/speedup.png",
                caption="../report/speedup.rst",
                category="Benchmark",
                subcategory="{workload}",
            ),
            throughput=report(
                f"{BENCHMARK_DIR}/{{workload}}/throughput.png",
                caption="../report/throughput.rst",
                category="Benchmark",
                subcategory="{workload}",
            ),
        log:
            f"{BENCHMARK_DIR}/{{workload}}/benchmark.log",
        localrule: True
        conda:
            "../envs/benchmark.yaml"
        threads: ALL_CORES
        params:
            scratch=lambda wildcards: f"{BENCHMARK_DIR}/{wildcards.workload}/scratch",
        script:
            "../scripts/benchmark_rule.py"

    rule benchmark:
        input:
            # the patterns, not rules.benchmark_engines.output: with a default storage
            # provider those carry storage flags, which expand() refuses
            expand(
                [
                    f"{BENCHMARK_DIR}/{{workload}}/{name}"
                    for name in (
                        "timings.csv",
                        "summary.md",
                        "speedup.png",
                        "throughput.png",
                    )
                ],
                workload=config["benchmark"]["workload"],
            ),
