"""The container study (imageprep_bench.container_study): what container: webdataset costs
against files, through Snakemake and the pool command, first run and reruns, with the files
each leaves. ``--help`` lists the options.

    python benchmark/container_study.py --workload many --out report.md
"""

import sys

from imageprep_bench.container_study import main

if __name__ == "__main__":
    sys.exit(main())
