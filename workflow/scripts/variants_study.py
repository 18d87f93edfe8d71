"""The variants study (imageprep.bench.variants_study): what a second and third variant cost
in one pass, each image decoded once, against each variant run alone. ``--help`` lists
the options.

    python workflow/scripts/variants_study.py --input-dir resources/photos
"""

import sys

from imageprep.bench.variants_study import main

if __name__ == "__main__":
    sys.exit(main())
