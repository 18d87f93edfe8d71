"""The companion benchmark's command line (the work is imageprep_bench; ``--help`` lists
the options):

    python workflow/scripts/benchmark.py --workload seed
    python workflow/scripts/benchmark.py --input-dir /data/photos --max-workers 2 --repeats 1
    python workflow/scripts/benchmark.py --dry-run-scale 100000

The Snakemake target (rule benchmark_engines) runs benchmark_rule.py instead.
"""

import sys
from pathlib import Path

# The benchmark lives in benchmark/ at the checkout's root, outside the product package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmark"))

from imageprep_bench.timings import main

if __name__ == "__main__":
    sys.exit(main())
