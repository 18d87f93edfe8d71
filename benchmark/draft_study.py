"""The JPEG draft study (imageprep_bench.draft_study): time and quality of the draft at
several gaps against a full decode. ``--help`` lists the options.

    python benchmark/draft_study.py
"""

from imageprep_bench.draft_study import main

if __name__ == "__main__":
    main()
