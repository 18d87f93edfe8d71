"""The pool schedule study (imageprep_bench.schedule_study): largest-first chunks of equal
bytes against fixed chunks in name order, on a folder. ``--help`` lists the options.

    python benchmark/schedule_study.py resources/photos
"""

from imageprep_bench.schedule_study import main

if __name__ == "__main__":
    main()
