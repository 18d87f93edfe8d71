# The resize rules: every job runs workflow/scripts/resize_jobs.py, the lean command of the job
# runner (imageprep.resize_jobs) around the one transform (imageprep.transform). What changes the
# outputs' bytes is a param (the spec, the transform's version), so Snakemake re-runs the
# jobs it affects; docs/architecture.md, "Reruns", has the whole story.
#
# images_per_job != 1 (default 0 = automatic): rule resize_shard, one job per shard of
# images (imageprep.shards). A job declares one output, its shard's rows, and reads
# its plan file; inside it, an image whose manifest row is still current is not redone.
# Rule manifest merges the shards' rows into <output_dir>/manifest.csv (and
# failed.tsv in skip mode).
#
# images_per_job = 1: rule resize, the literal per-image shape: one job, one declared output
# (the image, or in skip mode its outcome record) and one log per image. On a cluster,
# group "resize" (--group-components resize=N, the SLURM profile) submits N as one job.


if PER_IMAGE:

    rule resize:
        input:
            resize_input,
        output:
            RUN.declared("{image}"),
        log:
            f"{LOGS}/resize/{{image}}.log",
        benchmark:
            f"{BENCHMARKS}/resize/{{image}}.tsv"
        wildcard_constraints:
            image=OUTPUT_NAME,
        group:
            "resize"
        conda:
            "../envs/imageprep.yaml"
        threads: 1
        params:
            spec=lambda wildcards: SPEC.for_output(wildcards.image).to_json(),
            version=VERSION,
            images=lambda wildcards: PLAN.target(wildcards.image),
            records=lambda wildcards, output: list(output) if SKIP else [],
        shell:
            '"$IMAGEPREP_PYTHON" "$IMAGEPREP_SCRIPTS/resize_jobs.py" --spec {params.spec:q}'
            " --inputs {input:q} --outputs {params.images:q} --logs {log:q}"
            " --records {params.records:q}"

else:

    rule resize_shard:
        input:
            unpack(shard_inputs),
        output:
            shard_rows_path(OUTPUT_DIR, "{shard}"),
        log:
            f"{LOGS}/resize/shard-{{shard}}.log",
        benchmark:
            f"{BENCHMARKS}/resize/shard-{{shard}}.tsv"
        conda:
            "../envs/imageprep.yaml"
        threads: config["threads_per_job"]
        params:
            spec=SPEC.to_json(),
            version=VERSION,
            dirs=[INPUT_DIR, OUTPUT_DIR],
            on_error=config["on_error"],
        shell:
            '"$IMAGEPREP_PYTHON" "$IMAGEPREP_SCRIPTS/resize_jobs.py" --spec {params.spec:q}'
            " --plan {input.plan:q} --rows {output:q} --dirs {params.dirs:q}"
            " --on-error {params.on_error} --threads {threads} --log {log:q}"


rule manifest:
    input:
        unpack(manifest_inputs),
    output:
        manifest=MANIFEST,
        failed=FAILED_MANIFEST if SKIP else [],
    log:
        f"{LOGS}/manifest.log",
    localrule: True
    conda:
        "../envs/imageprep.yaml"
    params:
        spec=SPEC.to_json(),
        version=VERSION,
        dirs=[INPUT_DIR, OUTPUT_DIR],
        rule="per-image" if PER_IMAGE else "shards",
        on_error=config["on_error"],
    shell:
        '"$IMAGEPREP_PYTHON" "$IMAGEPREP_SCRIPTS/merge.py" --spec {params.spec:q}'
        " --dirs {params.dirs:q} --rule {params.rule} --on-error {params.on_error}"
        " --refused {input.refused:q}"
        " --images {input.images:q} --manifest {output.manifest:q}"
        " --failed {output.failed:q} 2> {log:q}"
