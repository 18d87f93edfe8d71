"""A Pillow plugin whose decoder fails with an exception type no one expects, loaded into
every Python process started with this folder on PYTHONPATH (Snakemake's jobs and the
pool's workers included): tests use it to check that any decoder failure is one image's
failure, reported in one line, never a traceback.

It claims files that start with ``FAULTY`` (so nothing else is affected): opening works,
decoding raises RuntimeError.
"""

from PIL import Image, ImageFile

MAGIC = b"FAULTY"


class FaultyImageFile(ImageFile.ImageFile):
    format = "FAULTY"
    format_description = "a test format whose decoder always fails"

    def _open(self) -> None:
        self._mode = "RGB"
        self._size = (64, 48)
        self.tile = []

    def load(self):  # type: ignore[override]
        raise RuntimeError("decoder exploded")


Image.register_open(FaultyImageFile.format, FaultyImageFile, lambda prefix: prefix[:6] == MAGIC)
