"""The command every resize job runs (workflow/rules/resize.smk):

    python resize.py --spec JSON --plan PLAN --manifest OUT --dirs IN OUT [--threads N]
                     [--on-error fail|skip] [--log LOG]                       (a shard job)
    python resize.py --spec JSON --inputs SRC... --outputs DST... [--logs LOG...] [--records REC...]

The work is imageprep.jobs (the runner) and imageprep.transform (the resize).
"""

import sys

from imageprep.jobs import main

if __name__ == "__main__":
    sys.exit(main())
