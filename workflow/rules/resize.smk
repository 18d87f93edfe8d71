# The resize rules: every job runs workflow/scripts/resize_jobs.py, the lean command of the job
# runner (imageprep.run.resize_jobs) around the one transform (imageprep.image.transform). What changes the
# outputs' bytes is a param (the spec, the transform's version), so Snakemake re-runs the
# jobs it affects; docs/architecture.md, "Reruns", has the whole story.
#
# images_per_job != 1 (default 0 = automatic): rule resize_shard, one job per shard of
# images (imageprep.run.shards). A job declares one output, its shard's rows, and reads
# its plan file; inside it, an image whose manifest row is still current is not redone.
# Rule manifest merges the shards' rows into <output_dir>/manifest.csv (and
# failed.tsv in skip mode).
#
# images_per_job = 1: rule resize, the literal per-image shape: one job, one declared output
# (the image, or in skip mode its outcome record; with variants or filters, the image's
# rows) and one log per image. On a cluster, group "resize" (--group-components resize=N,
# the SLURM profile) submits N as one job.
#
# With variants, a job makes every variant of its images (each decoded once): a shard job
# declares its rows in each variant's folder, rule manifest one manifest.csv per variant.

# Changing on_error re-runs the jobs (which try failed images again in fail mode): it is
# a param of rule resize_shard, in the command's text of the per-image rule with rows, and
# the plain per-image rule declares other outputs in skip mode (each image's record).
RESIZE_COMMAND = (
    f" --dirs {{params.dirs:q}} --on-error {config['on_error']} --names {{params.names:q}}"
    " --image-rows {output:q} --logs {log:q}"
    if RUN.declares_rows
    else " --inputs {input:q} --outputs {params.images:q} --logs {log:q}"
    " --records {params.records:q} --dirs {params.dirs:q}"
)


# The container, other than files, is in the commands' text (not a param, which would re-run
# every job of a folder of files after an upgrade): switching it re-runs the jobs.
CONTAINER = (
    "" if VARIANTS[0].container == "files" else f" --container {VARIANTS[0].container}"
)


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
            image=IMAGE_NAME,
        group:
            "resize"
        conda:
            "../envs/imageprep.yaml"
        threads: 1
        params:
            spec=image_spec,
            version=VERSION,
            images=lambda wildcards: PLAN.target(wildcards.image),
            records=lambda wildcards, output: list(output) if SKIP else [],
            # derived (they name output): not compared for reruns, which they do not shape
            dirs=lambda wildcards, output: [INPUT_DIR, OUTPUT_DIR],
            names=lambda wildcards, output: PLAN.outputs.get(
                wildcards.image, wildcards.image
            ),
        shell:
            '"$IMAGEPREP_PYTHON" "$IMAGEPREP_SCRIPTS/resize_jobs.py" --spec {params.spec:q}'
            + RESIZE_COMMAND

else:

    rule resize_shard:
        input:
            unpack(shard_inputs),
        output:
            RUN.shard_rows("{shard}"),
        log:
            f"{LOGS}/resize/shard-{{shard}}.log",
        benchmark:
            f"{BENCHMARKS}/resize/shard-{{shard}}.tsv"
        conda:
            "../envs/imageprep.yaml"
        threads: config["threads_per_job"]
        params:
            spec=SPEC_JSON,
            version=VERSION,
            dirs=[INPUT_DIR, OUTPUT_DIR],
            on_error=config["on_error"],
            # derived (it takes output): not compared for reruns; the plan file is the
            # job's input too, but for a default storage provider (shard_inputs)
            plan=lambda wildcards, output: plan_path(OUTPUT_DIR, wildcards.shard),
        shell:
            '"$IMAGEPREP_PYTHON" "$IMAGEPREP_SCRIPTS/resize_jobs.py" --spec {params.spec:q}'
            " --plan {params.plan:q} --rows {output:q} --dirs {params.dirs:q}"
            " --on-error {params.on_error} --threads {threads} --log {log:q}"
            f"{CONTAINER}"


rule manifest:
    input:
        unpack(manifest_inputs),
    output:
        manifest=MANIFESTS,
        metadata=METADATA_FILES,  # Hugging Face imagefolder's (imageprep.folder.metadata)
        failed=FAILED_MANIFESTS if SKIP else [],
        # what snakemake --report shows of the run, per variant (imageprep.folder.run_report)
        report=[
            report(
                local(path),
                caption=f"../report/{Path(path).stem}.rst",
                category=REPORT_CATEGORY,
                subcategory=variant.name or "outputs",
            )
            for variant in VARIANTS
            for path in report_files(REPORTS, variant.name)
        ],
    log:
        local(f"{LOGS}/manifest.log"),
    localrule: True
    conda:
        "../envs/imageprep.yaml"
    params:
        spec=SPEC_JSON,
        version=VERSION,
        dirs=[INPUT_DIR, OUTPUT_DIR],
        rule=(
            "shards"
            if not PER_IMAGE
            else ("per-image-rows" if RUN.declares_rows else "per-image")
        ),
        on_error=config["on_error"],
        reports=lambda wildcards, output: Path(output.report[0]).parent.parent,
        rows_root=rows_root,
    shell:
        '"$IMAGEPREP_PYTHON" "$IMAGEPREP_SCRIPTS/merge.py" --spec {params.spec:q}'
        " --dirs {params.dirs:q} --rule {params.rule} --on-error {params.on_error}"
        " --images {input.images:q} --report {params.reports:q}"
        " --rows-root={params.rows_root:q}"
        f"{CONTAINER} 2> {{log:q}}"
