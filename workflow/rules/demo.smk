# The embedded demo data: photo-like synthetic images generated deterministically, so a
# fresh clone has something to resize (input_dir: resources/demo in config/config.yaml).
# In a workflow that imports imageprep several times, the first instance reading the demo
# set declares this rule for all of them.


if DEMO_RULE:

    rule demo_images:
        output:
            [f"{DEMO_DIR}/{item.name}" for item in DEMO],
        log:
            f"{LOGS}/demo_images.log",
        conda:
            "../envs/imageprep.yaml"
        threads: ALL_CORES
        params:
            n_images=config["demo"]["count"],
            seed=config["demo"]["seed"],
        shell:
            '"$IMAGEPREP_PYTHON" "$IMAGEPREP_SCRIPTS/demo_images.py" --count {params.n_images}'
            " --seed {params.seed} --workers {threads} --outputs {output:q} > {log:q} 2>&1"
