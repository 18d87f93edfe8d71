"""Rule script of `demo_images` and `dataset`: writes the generated images
(imageprep.synthetic) that the demo run and the benchmark resize."""

from imageprep.synthetic import demo_manifest, generate_dataset, write_demo_set

smk = snakemake  # noqa: F821  (injected by Snakemake's script: directive)
with open(smk.log[0], "w") as log:
    if smk.rule == "demo_images":
        manifest = demo_manifest(smk.params.n_images, smk.params.seed)
        write_demo_set(manifest, list(smk.output), smk.params.seed, smk.threads)
        print(f"wrote {len(manifest)} demo images", file=log)
    else:  # rule dataset: one benchmark workload
        w = smk.params.workload
        paths = generate_dataset(smk.output[0], w["count"], w["size"], w["seed"], smk.threads)
        print(f"wrote {len(paths)} images of {w['size']} to {smk.output[0]}", file=log)
