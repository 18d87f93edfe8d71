"""Pillow's warnings about one image ("Corrupt EXIF data"), collected for that image's log
line, also when several threads resize at once (a shard job's threads, the thread pool).

``warnings.catch_warnings`` swaps process-wide state on entry and restores it on exit, so two
threads using it at once lose or mix each other's warnings, and can leave the process
recording into a list nobody reads. Here one hook is installed once per process, and each
thread collects into its own list.
"""

import contextlib
import threading
import warnings
from collections.abc import Iterator

_local = threading.local()
_lock = threading.Lock()
_ALWAYS = ("always", None, Warning, None, 0)


def _show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
    sink = getattr(_local, "sink", None)
    if sink is None:
        _shown_before(message, category, filename, lineno, file, line)
    elif issubclass(category, UserWarning):
        sink.append(" ".join(str(message).split()))


def _install() -> None:
    """Put the hook (back) in place: a caller's own catch_warnings (pytest's, around every
    test) may have replaced it since."""
    global _shown_before
    with _lock:
        if warnings.showwarning is not _show:
            _shown_before, warnings.showwarning = warnings.showwarning, _show
        # Every warning reaches the hook, none is raised: PYTHONWARNINGS=error must not
        # fail an image, and a warning seen before must still be noted for the next one.
        if not warnings.filters or warnings.filters[0] != _ALWAYS:
            warnings.simplefilter("always")


@contextlib.contextmanager
def collected_warnings() -> Iterator[list[str]]:
    """The warnings raised in this thread inside the block, each once, in order."""
    _install()
    _local.sink = sink = []
    try:
        yield sink
    finally:
        _local.sink = None
        sink[:] = dict.fromkeys(sink)


_shown_before = warnings.showwarning
