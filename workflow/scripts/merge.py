"""The command of rule manifest (workflow/rules/resize.smk): merge the resize jobs' rows into
<output_dir>/manifest.csv, and failed.tsv in skip mode. The work is imageprep.run.merge."""

import sys

from imageprep.run.merge import main

if __name__ == "__main__":
    sys.exit(main())
