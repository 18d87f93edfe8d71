"""Rule script of `dataset`: writes a generated benchmark workload (imageprep.image.synthetic).
The demo set has its own command, demo_images.py."""

from imageprep.image.synthetic import generate_dataset

smk = snakemake  # noqa: F821  (injected by Snakemake's script: directive)
with open(smk.log[0], "w") as log:
    w = smk.params.workload
    paths = generate_dataset(smk.output[0], w["count"], w["size"], w["seed"], smk.threads)
    print(f"wrote {len(paths)} images of {w['size']} to {smk.output[0]}", file=log)
