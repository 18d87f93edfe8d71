"""The variants study (imageprep_bench.variants_study): what a second and third variant cost
in one pass, each image decoded once, against each variant run alone. ``--help`` lists
the options.

    python benchmark/variants_study.py --input-dir resources/photos
"""

import sys

from imageprep_bench.variants_study import main

if __name__ == "__main__":
    sys.exit(main())
