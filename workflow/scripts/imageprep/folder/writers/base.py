"""What every container's writer does: the one seam between making an output (bytes, from
the transform) and keeping it (a file, a tar's member). Runs, jobs and the pool only ever
talk to a :class:`Writer` and the :class:`Sink` it opens; docs/architecture.md, "Adding a
container", lists what a new one touches."""

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from imageprep.folder.manifest import Row


class Sink(Protocol):
    """Where one variant's outputs of a run (or of one shard) go while images are made."""

    def where(self, out: str) -> str:
        """How an image's log line names output ``out``."""
        ...

    def confirm(self, current: Sequence[Row | None]) -> list[Row | None]:
        """The current rows (current.current_rows) of this shard's members, with None where
        the output itself is no longer there as its row says (to make again)."""
        ...

    def put(self, out: str, data: bytes) -> None:
        """Keep one output's bytes (raise OutputError when they cannot be kept)."""
        ...

    def discard(self, out: str) -> None:
        """An output asked for that was not made (a bad input, a filter): an old one goes."""
        ...

    def close(self, rows: list[Row], complete: bool) -> list[Row]:
        """The shard's end: its rows as kept (with where they are), or, for a writer that
        writes a shard whole, none when the shard stopped early (its old rows stay true)."""
        ...


class Writer(Protocol):
    """One container (config's ``container``): how a variant's outputs are named and kept,
    what says they are still there, and how a complete folder is finished."""

    name: str
    # A shard's outputs are written together at its end (a tar): the shard is then the
    # unit of work of both paths, and a stopped shard keeps nothing new.
    per_shard: bool
    # Outputs are named by their whole input path: no two inputs share one (no clashes).
    unique_names: bool

    def output(self, rel: str, out: str) -> str:
        """The name of input ``rel``'s output (``out``: its path as a file would be)."""
        ...

    def stored_in(self, shard: str, out: str) -> str:
        """The file under the variant's folder that holds output ``out`` of ``shard``."""
        ...

    def holds(self, row: Row) -> bool:
        """Whether an ``ok`` row was made in this container (not where the other looks)."""
        ...

    def output_file(self, folder: str, out: str) -> Path | None:
        """The file to check before a row is current; None: the sink checks (confirm)."""
        ...

    def open(self, folder: str, shard: str = "") -> Sink:
        """A sink for the outputs made into ``folder`` (of one shard, for ``per_shard``)."""
        ...

    def folder_files(self, folder: str) -> list[str]:
        """What a complete folder has beside manifest.csv (the manifest rule declares it)."""
        ...

    def finish_folder(self, folder: str, shards: Collection[str] | None) -> None:
        """After manifest.csv is written: what goes with it (``shards``: the run's shard
        names, when every shard was made in this run's shard count)."""
        ...

    def refuse(self, outputs: Iterable[str]) -> str | None:
        """Why a variant's planned outputs cannot be kept in this container, or None (a
        writer with nothing to refuse returns at once: they are a million at scale)."""
        ...

    def read(self, folder: str, outputs: Sequence[tuple[str, str]]) -> dict[str, bytes]:
        """The bytes of a few outputs (each with the file its row says holds it: the row's
        ``tar``), those still there: what the report's contact sheet shows."""
        ...
