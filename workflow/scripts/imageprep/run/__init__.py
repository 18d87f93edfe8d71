"""How a run is planned and executed, by Snakemake's jobs and the pool alike: the config,
the plan and its shards, the parse-time startup, the one runner, the jobs the rules run,
the manifest job, the clean command. Imports imageprep.image and imageprep.folder."""
