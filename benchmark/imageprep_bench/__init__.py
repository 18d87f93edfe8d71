"""The companion benchmark and the studies: every engine timed on the same plan and transform
(timings.py, engines.py), the reports (report.py, targets.py) and the studies behind the
shipped settings (*_study.py). Not part of the product: imageprep never imports it.

It measures the imageprep package of this checkout, found relative to this file (never the
working directory), so that the entry points in benchmark/ run from anywhere."""

import sys
from pathlib import Path

SCRIPTS = str(Path(__file__).resolve().parents[2] / "workflow" / "scripts")
if SCRIPTS not in sys.path:
    sys.path.append(SCRIPTS)
