"""The clean command (workflow/scripts/clean.py): remove what an output folder holds that
imageprep made earlier and its manifest.csv no longer lists (a deleted input, an old
``format``, the other container; stale.py keeps the list). It shows them first; --yes
removes them. Never a file imageprep did not list as made, and never while a run holds the
folder.

    python workflow/scripts/clean.py                  # config/config.yaml: list them
    python workflow/scripts/clean.py --yes            # remove them
    python workflow/scripts/clean.py --config output_dir=results/photos --yes
"""

import argparse
import os
import sys
from pathlib import Path

from imageprep.folder.closing import forget_stale
from imageprep.folder.folder_lock import FolderInUse, check_free, hold
from imageprep.folder.layout import output_folder, shown
from imageprep.folder.manifest import MANIFEST_CSV
from imageprep.folder.stale import manifest_listing, present_sizes, remove_stale, stale_files
from imageprep.folder.variants import from_config
from imageprep.image.diagnose import OutputError, SourceError
from imageprep.run.config import add_config_arguments, config_from_arguments

SHOWN = 20  # files named before "... and N more"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_config_arguments(p)
    p.add_argument("--yes", action="store_true", help="remove them (default: only list them)")
    args = p.parse_args(argv)
    try:
        config = config_from_arguments(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    output_dir = output_folder(config["output_dir"])
    folders = [v.folder(output_dir) for v in from_config(config)]
    try:
        check_free(output_dir)
        if args.yes and Path(output_dir).is_dir():
            hold(output_dir, f"workflow/scripts/clean.py in {os.getcwd()}")
    except (FolderInUse, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:  # what the folder's manifest lists now: a bucket folder's own, from the bucket
        lists = {folder: manifest_listing(folder) for folder in folders}
        found = {folder: stale_files(folder, lists[folder] or set()) for folder in folders}
    except (OutputError, SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    unfinished = [shown(f) for f, names in found.items() if names and lists[f] is None]
    if unfinished:  # a stopped run: what it has made is not listed yet
        print(
            f"error: {unfinished[0]}/{MANIFEST_CSV} is missing (a run stopped early): run the "
            "workflow again to finish the folder, then clean it",
            file=sys.stderr,
        )
        return 1
    # (a bucket folder's: as URLs, sized from its listing)
    paths = [f"{shown(folder)}/{name}" for folder, names in found.items() for name in names]
    if not paths:
        print(f"nothing to remove: {shown(output_dir)} holds no file that imageprep made and "
              "no longer lists", file=sys.stderr)  # fmt: skip
        return 0
    size = 0
    for folder, names in found.items():
        sizes = present_sizes(folder)
        size += sum(Path(folder, n).stat().st_size if sizes is None else sizes[n] for n in names)
    what = f"{len(paths)} files ({size / 1e6:.1f} MB) that imageprep made earlier and "
    what += "no manifest.csv lists now"
    if not args.yes:
        for path in paths[:SHOWN]:
            print(path)
        if len(paths) > SHOWN:
            print(f"... and {len(paths) - SHOWN} more")
        print(f"{what}; run again with --yes to remove them", file=sys.stderr)
        return 0
    try:
        for folder, names in found.items():
            remove_stale(folder, names)
        forget_stale(output_dir)
    except OutputError as exc:  # a bucket's
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot remove {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"removed {what}", file=sys.stderr)
    return 0
