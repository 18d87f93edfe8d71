"""The container study (imageprep.bench.container_study): what container: webdataset costs
against files, through Snakemake and the pool command, first run and reruns, with the files
each leaves. ``--help`` lists the options.

    python workflow/scripts/container_study.py --workload many --out report.md
"""

import sys

from imageprep.bench.container_study import main

if __name__ == "__main__":
    sys.exit(main())
