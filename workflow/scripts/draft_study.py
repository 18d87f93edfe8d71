"""The JPEG draft study (imageprep.bench.draft_study): time and quality of the draft at
several gaps against a full decode. ``--help`` lists the options.

    python workflow/scripts/draft_study.py
"""

from imageprep.bench.draft_study import main

if __name__ == "__main__":
    main()
