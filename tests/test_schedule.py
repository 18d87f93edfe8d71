"""The pool's schedule: the largest images first, in chunks of about equal bytes; every
image exactly once; the same bytes whatever the order (checked through the pool command)."""

import pytest
from PIL import Image

from helpers import digests, run_pool
from imagefactory import photo
from imageprep.pool.schedule import largest_first, make_chunks


def flat(chunks):
    return [i for chunk in chunks for i in chunk]


@pytest.mark.parametrize("workers", [1, 2, 16])
@pytest.mark.parametrize("chunksize", [0, 1, 3])
def test_every_image_is_scheduled_once_largest_first(workers, chunksize):
    sizes = [5, 900, 30, 30, 7_000, 0, 120, 64, 64, 2]
    chunks = make_chunks(sizes, workers, chunksize)
    assert sorted(flat(chunks)) == list(range(len(sizes)))
    assert flat(chunks) == largest_first(sizes)
    assert [sizes[i] for i in flat(chunks)] == sorted(sizes, reverse=True)
    if chunksize:
        assert all(len(c) == chunksize for c in chunks[:-1])


def test_large_images_travel_alone_and_small_ones_together():
    sizes = [10_000, 9_000, 8_000, 7_000] + [100] * 100  # four camera photos, thumbnails
    chunks = make_chunks(sizes, workers=2)
    assert chunks[:4] == [[0], [1], [2], [3]]  # not all four in one worker's first chunk
    assert max(len(c) for c in chunks[4:]) == len(sizes) // 16  # small ones grouped


def test_equal_sizes_give_about_eight_chunks_a_worker():
    assert len(make_chunks([1000] * 1000, workers=2)) in (16, 17)
    assert len(make_chunks([0] * 1000, workers=4)) in (32, 33)  # empty files: by count
    assert make_chunks([], workers=2) == []


def test_pool_output_does_not_depend_on_order_or_workers(workdir):
    for i, size in enumerate([(2400, 1600), (320, 240), (1600, 1200), (200, 150), (800, 600)]):
        photo(workdir / "photos" / f"img_{i}.jpg", size, seed=i)
    run_pool(workdir, "--workers", "1", "--output-dir", "one")
    run_pool(workdir, "--workers", "2", "--output-dir", "two")
    run_pool(workdir, "--workers", "2", "--chunksize", "2", "--output-dir", "fixed")
    one = digests(workdir / "one")
    assert len(one) == 5 + 2  # and manifest.csv, metadata.csv
    assert one == digests(workdir / "two") == digests(workdir / "fixed")
    assert all(Image.open(p).size == (600, 600) for p in (workdir / "two").glob("*.jpg"))
