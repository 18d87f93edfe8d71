# The resize rules: every job runs workflow/scripts/resize.py, the lean command of the job
# runner (imageprep.jobs) around the one transform (imageprep.transform). The spec is a
# param, so a config change re-runs exactly the jobs whose result it changes.
#
# images_per_job = 1: rule `resize`, one job per image.
# images_per_job > 1 (or 0 = automatic): rules `resize_shard_NNNN`, one job per shard of
# images; every image still has its own declared output and log, but a rerun redoes its
# whole shard. Shards are chosen by a hash of the path, so adding an image touches one shard.
#
# Group "resize" is ignored locally; on a cluster, --group-components resize=N (the SLURM
# profile) submits N per-image jobs as one job. Each shard is one submission of its own.
#
# on_error: fail (default): each job declares its images; a bad one fails the job.
# on_error: skip: each job declares one outcome record per image (failures.py) and writes the
# images beside them; rule failed_manifest collects the failures into failed.tsv.


if IMAGES_PER_JOB == 1:

    rule resize:
        input:
            resize_input,
        output:
            declared("{image}"),
        log:
            "logs/resize/{image}.log",
        benchmark:
            "benchmarks/resize/{image}.tsv"
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
            '"$IMAGEPREP_PYTHON" "$IMAGEPREP_SCRIPTS/resize.py" --spec {params.spec:q}'
            " --inputs {input:q} --outputs {params.images:q} --logs {log:q}"
            " --records {params.records:q}"

else:
    for shard, members in SHARDS.items():

        rule:
            name:
                f"resize_shard_{shard:04d}"
            input:
                [PLAN.source(out) for out in members],
            output:
                [declared(out) for out in members],
            log:
                [f"logs/resize/{out}.log" for out in members],
            benchmark:
                f"benchmarks/resize/shard_{shard:04d}.tsv"
            conda:
                "../envs/imageprep.yaml"
            threads: 1
            params:
                spec=SPEC.to_json(),
                version=VERSION,
                images=[PLAN.target(out) for out in members],
                records=lambda wildcards, output: list(output) if SKIP else [],
            shell:
                '"$IMAGEPREP_PYTHON" "$IMAGEPREP_SCRIPTS/resize.py" --spec {params.spec:q}'
                " --inputs {input:q} --outputs {params.images:q} --logs {log:q}"
                " --records {params.records:q}"


if SKIP:

    rule failed_manifest:
        input:
            RESIZED,
        output:
            FAILED_MANIFEST,
        log:
            "logs/failed_manifest.log",
        localrule: True
        params:
            known=sorted(PLAN.refused.values()),
        run:
            merge_records(input, params.known, output[0])
