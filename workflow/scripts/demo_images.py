"""The command of rule demo_images: write the generated demo set (imageprep.image.synthetic) that
a fresh clone's first run resizes. A command, not a ``script:``: a script's process imports
Snakemake to read its arguments, which costs a second of the demo's first run.

    python demo_images.py --count 48 --seed 0 --workers 2 --outputs PATH...  (one per image)
"""

import argparse

from imageprep.image.synthetic import demo_catalog, write_demo_set

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--count", type=int, required=True)
p.add_argument("--seed", type=int, required=True)
p.add_argument("--workers", type=int, default=1)
p.add_argument("--outputs", nargs="+", required=True, help="in demo_catalog's order")
args = p.parse_args()
catalog = demo_catalog(args.count, args.seed)
if len(args.outputs) != len(catalog):
    p.error(f"--outputs needs {len(catalog)} paths, got {len(args.outputs)}")
write_demo_set(catalog, args.outputs, args.seed, args.workers)
print(f"wrote {len(catalog)} demo images")
