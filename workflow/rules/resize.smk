# The per-image rule: one job resizes one image with the shared transform in
# workflow/scripts/resize.py. The spec is a param, so a config change re-runs exactly the
# jobs whose result it changes.


rule resize:
    input:
        resize_input,
    output:
        f"{OUTPUT_DIR}/{{image}}",
    log:
        "logs/resize/{image}.log",
    benchmark:
        "benchmarks/resize/{image}.tsv"
    conda:
        "../envs/imageprep.yaml"
    threads: 1
    params:
        spec=lambda wildcards: SPEC.for_output(wildcards.image).to_json(),
    script:
        "../scripts/resize.py"
