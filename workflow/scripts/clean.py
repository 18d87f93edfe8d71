"""The clean command: remove the files imageprep made earlier that an output folder's
manifest.csv no longer lists; it lists them first, ``--yes`` removes them. ``--help`` lists
the options.

    python workflow/scripts/clean.py                  # config/config.yaml: list them
    python workflow/scripts/clean.py --yes            # remove them
"""

import sys

from imageprep.run.clean import main

if __name__ == "__main__":
    sys.exit(main())
