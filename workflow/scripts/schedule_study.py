"""The pool schedule study (imageprep.bench.schedule_study): largest-first chunks of equal
bytes against fixed chunks in name order, on a folder. ``--help`` lists the options.

    python workflow/scripts/schedule_study.py resources/photos
"""

from imageprep.bench.schedule_study import main

if __name__ == "__main__":
    main()
