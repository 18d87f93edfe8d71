# imageprep: resize a folder of images, in shards of images or one Snakemake job per image.
# Settings: config/config.yaml (documented in config/README.md); rules: workflow/rules/.
# Another workflow can import it as a module (docs/module.md): its
# `config:` then replaces config/config.yaml, and its own `rule all` stays the default.
from snakemake.utils import min_version

min_version("9.0")


# Imported as a module (`module NAME: ...`), __name__ is NAME: the parent's config: is the
# config then, never a config/config.yaml of the working directory (the parent's own).
STANDALONE = __name__ is None
if STANDALONE:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/resize.smk"
include: "workflow/rules/benchmark.smk"


rule all:
    default_target: STANDALONE
    input:
        MANIFESTS,
        METADATA_FILES,
        FAILED_MANIFESTS if SKIP else [],
        RESIZED,  # requested too: Snakemake does not remake an intermediate file that is gone


# Snakemake's job rate limiter leaves a non-daemon threading.Timer (up to the profile's
# 1-s timespan) that the interpreter waits for at exit, after all the work is done; once
# the run has ended it has nothing left to release (docs/performance.md, section 3).
# Every run ends by saying what it did, in the pool command's words (imageprep.folder.closing).
onsuccess:
    cancel_scheduler_timers()
    if STANDALONE:
        print(run_summary(), file=sys.stderr)


onerror:
    cancel_scheduler_timers()
    if STANDALONE and not (CONSOLE and CONSOLE.interrupted):  # Ctrl-C: said already
        print(
            f"stopped: finished outputs in {OUTPUT_SHOWN} are kept; the failing job's log is "
            "named above; run again to do the rest",
            file=sys.stderr,
        )
