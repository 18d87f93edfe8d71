"""The bucket study (imageprep_bench.bucket_study): which S3 client reads a bucket fastest,
obstore or boto3, against one local S3 API server, with the bare HTTP floor in the same
run. ``--help`` lists the options.

    python benchmark/bucket_study.py --objects 5000 --gets 1000 --out report.md
"""

import sys

from imageprep_bench.bucket_study import main

if __name__ == "__main__":
    sys.exit(main())
