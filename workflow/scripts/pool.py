"""The pool command: the same job as ``snakemake --cores N``, run by a hand-written
``concurrent.futures.ProcessPoolExecutor`` (imageprep.pool.command, around imageprep.pool.workers).
``--help`` lists the options.

    python workflow/scripts/pool.py                       # config/config.yaml, all cores
    python workflow/scripts/pool.py --workers 2 --on-error skip
    python workflow/scripts/pool.py --force                # redo every image
"""

import sys

from imageprep.pool.command import main

if __name__ == "__main__":
    sys.exit(main())
