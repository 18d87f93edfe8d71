"""Which images a pool worker takes together, and in what order: the biggest first
(longest-processing-time first), in chunks of about equal bytes.

With many similar images any order balances. With few, uneven ones (a folder of real
photographs from 1 to 24 megapixels), fixed-count chunks in name order can leave one
worker idle while another finishes a large image at the end. Starting with the largest
images, one at a time, and grouping the small ones, ends every worker at about the same
time. File sizes are the cheap estimate of the work: one stat per image, no decoding.
(docs/performance.md, section 2, has the measurements: docs/results/real/schedule-study.md.)
"""

import os
from collections.abc import Sequence

CHUNKS_PER_WORKER = 8  # enough pieces to even out the end, few enough to amortise IPC


def input_sizes(paths: Sequence[str]) -> list[int]:
    """Each file's size in bytes (0 where it cannot be read: its failure comes later)."""
    sizes = []
    for path in paths:
        try:
            sizes.append(os.stat(path).st_size)
        except OSError:
            sizes.append(0)
    return sizes


def largest_first(sizes: Sequence[int]) -> list[int]:
    """Indices from the largest size down; ties keep their order (deterministic)."""
    return sorted(range(len(sizes)), key=lambda i: -sizes[i])


def make_chunks(
    sizes: Sequence[int], workers: int, chunksize: int = 0, per_worker: int = CHUNKS_PER_WORKER
) -> list[list[int]]:
    """Indices grouped into the chunks a pool sends to its workers, largest first.

    ``chunksize`` > 0: that many images a chunk. 0 (automatic): a chunk closes at about
    1/(workers × per_worker) of all bytes or of all images, whichever comes first, so a
    large image travels alone, and small ones go together but never in fewer pieces than
    fixed chunks of images/(workers × per_worker) would make.
    """
    order = largest_first(sizes)
    if chunksize:
        return [order[i : i + chunksize] for i in range(0, len(order), chunksize)]
    pieces = max(1, workers) * per_worker
    weights = [max(size, 1) for size in sizes]  # empty files still count as work
    budget, most = sum(weights) / pieces, max(1, len(sizes) // pieces)
    chunks: list[list[int]] = []
    chunk: list[int] = []
    filled = 0
    for index in order:
        chunk.append(index)
        filled += weights[index]
        if filled >= budget or len(chunk) >= most:
            chunks.append(chunk)
            chunk, filled = [], 0
    if chunk:
        chunks.append(chunk)
    return chunks
