"""The per-core speed study (imageprep_bench.speed_study): the transform against libvips'
thumbnail on one core, at each draft gap, with Pillow's and (a prototype) libvips'
resampler, and the decode alone. ``--help`` lists the options.

    python benchmark/speed_study.py --input-dir resources/photos --mode stretch
"""

import sys

from imageprep_bench.speed_study import main

if __name__ == "__main__":
    sys.exit(main())
