"""Where an output folder keeps what: every file imageprep writes in an output folder besides
the outputs themselves, named here and nowhere else. Paths are relative to the folder: the
output_dir for what a run keeps once (lock, plans, logs), each variant's folder for what is
per variant (manifest, rows). docs/development.md, "Where things go", says what each holds.
"""

# Beside the outputs, for a loader and for you.
MANIFEST_CSV = "manifest.csv"  # one row per image (manifest.py)
METADATA_CSV = "metadata.csv"  # Hugging Face imagefolder's (metadata.py)
FAILED_TSV = "failed.tsv"  # on_error: skip, the images skipped (records.py)

# Hidden: loaders that skip hidden folders (Hugging Face, glob.glob) never see these.
OWN = ".imageprep"
LOCK = f"{OWN}/lock"  # one run per folder (folder_lock.py)
PLANS = f"{OWN}/plans"  # a plan file per shard (run/shards.py)
SHARD_ROWS = f"{OWN}/shards"  # each shard job's declared rows
KEPT_ROWS = f"{OWN}/rows"  # the rows the next run compares against
REFUSED_ROWS = f"{OWN}/refused.csv"  # rows of inputs refused before any job
REFUSED_LIST = f"{OWN}/refused-inputs.tsv"  # the same inputs, as the error message lists them
IMAGES_LIST = f"{OWN}/images.tsv"  # the per-image rule: every image, for the manifest job
IMAGE_ROWS = f"{OWN}/images"  # the per-image rule with variants or filters: rows per image
RECORDS = OWN  # the per-image rule in skip mode: an outcome record per image (records.py)
LAST_RUN = f"{OWN}/last-run.json"  # the manifest job's counts, for the closing line
REPORTED = f"{OWN}/reported-manifest.csv"  # the manifest the last report saw
LISTED = f"{OWN}/listed-manifest.csv"  # the last manifest written (stale.py)
STALE = f"{OWN}/stale.tsv"  # made earlier, listed no more (stale.py)
LOGS, BENCHMARKS, REPORTS = f"{OWN}/logs", f"{OWN}/benchmarks", f"{OWN}/reports"  # standalone
