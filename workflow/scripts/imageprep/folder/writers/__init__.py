"""The writers: one per container (config's ``container``), chosen once from config
(:func:`writer_for`). A new container is a module here, its entry in WRITERS, and its name
in the config schema's ``container`` enum."""

from imageprep.folder.writers.base import Sink, Writer
from imageprep.folder.writers.files import FILES
from imageprep.folder.writers.webdataset import WEBDATASET

WRITERS: dict[str, Writer] = {writer.name: writer for writer in (FILES, WEBDATASET)}
CONTAINERS = tuple(WRITERS)


def writer_for(container: str) -> Writer:
    return WRITERS[container]


__all__ = ["CONTAINERS", "WRITERS", "Sink", "Writer", "writer_for"]
