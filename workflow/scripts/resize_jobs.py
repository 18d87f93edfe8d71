"""The command every resize job runs (workflow/rules/resize.smk):

    python resize_jobs.py --spec JSON --plan PLAN --rows OUT --dirs IN OUT [--threads N]
                          [--on-error fail|skip] [--log LOG]                  (a shard job)
    python resize_jobs.py --spec JSON --inputs SRC... --outputs DST... [--logs LOG...]
                          [--records REC...] [--dirs IN OUT]           (the per-image rule)

Ctrl-C or SIGTERM: the images in hand finish, the rows of what was made are kept, exit 130.

The work is imageprep.run.resize_jobs, through imageprep.run.runner and imageprep.image.transform.
"""

import signal
import sys
import threading

# Ctrl-C or SIGTERM from the very start: a job stopped while it imports makes nothing.
STOP = threading.Event()
for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, lambda *_: STOP.set())

from imageprep.run.resize_jobs import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(stop=STOP))
