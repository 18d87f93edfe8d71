"""Why an image could not be made, in the words a person would use: the one line a user sees
for a bad input (:class:`ImageError`) or for a failure of the environment (:class:`OutputError`).

An input's fault skips that image (``on_error: skip``); the environment's fault (full disk,
read-only output folder) fails the whole run, whatever ``on_error`` says.
"""

import contextlib
import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, UnidentifiedImageError


class ImageError(Exception):
    """A bad input image: the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


class SourceError(Exception):
    """The input folder or bucket cannot be read at all (an endpoint that does not answer,
    wrong credentials): the environment's failure, which fails the run, never an image's."""


class OutputError(Exception):
    """An output could not be written (full disk, read-only folder, no permission): not the
    image's fault, so it fails the run; the message names the output and the cause."""

    def __init__(self, path: str | os.PathLike, cause: str):
        super().__init__(f"cannot write {os.fspath(path)}: {cause}")
        self.path = os.fspath(path)
        self.cause = cause

    def __reduce__(self) -> tuple:
        return OutputError, (self.path, self.cause)  # raised in a pool worker, read back


_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def not_a_file_reason(mode: int) -> str | None:
    """Why something that is not a regular file cannot be an image (reading a FIFO or a
    device would block or never end); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "a special file")
    return f"{kind}, not a regular file"


def path_reason(path: str | os.PathLike) -> str | None:
    """What makes ``path`` unreadable before any byte is read: a dangling symlink or a file
    that is not a regular file (after following symlinks). None if it can be opened."""
    try:
        return not_a_file_reason(os.stat(path).st_mode)
    except FileNotFoundError:
        if os.path.islink(path):
            return f"broken symlink (to {os.readlink(path)})"
        return "No such file or directory"
    except OSError as exc:  # a symlink loop, a name too long...
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        return exc.strerror or str(exc)


# Formats people meet in photo folders that Pillow cannot decode: (magic test, name).
_UNREADABLE_FORMATS = (
    (lambda head: head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1"), "HEIC"),
    (lambda head: head.startswith(b"\xff\x0a") or head[4:8] == b"JXL ", "JPEG XL"),
    (lambda head: head.startswith(b"%PDF"), "PDF"),
    (lambda head: b"<svg" in head, "SVG"),
)

# Leading bytes of the formats Pillow reads most, to name a file it failed to open.
_MAGIC = {b"\xff\xd8": "JPEG", b"\x89PNG": "PNG", b"GIF8": "GIF", b"II*\x00": "TIFF",
          b"MM\x00*": "TIFF", b"BM": "BMP", b"RIFF": "WEBP", b"DDS ": "DDS"}  # fmt: skip

# Pillow's messages for files it identifies but cannot decode on this machine, and what to
# tell the user instead (the message as Pillow words it says "corrupt" or nothing useful).
_MISSING_DECODERS = (
    (
        re.compile(r"Unable to locate Ghostscript"),
        "{fmt} needs Ghostscript, which is not installed",
    ),
    (
        re.compile(r"cannot find loader for this \w+ file"),
        "{fmt} file: Pillow recognises the format but has no decoder for it here",
    ),
)


def _sniff_format(src: Path) -> str:
    """The format a file Pillow failed to open seems to be: its leading bytes, else what its
    extension says."""
    with contextlib.suppress(OSError), open(src, "rb", opener=_nonblocking) as fh:
        head = fh.read(4)
        for magic, name in _MAGIC.items():
            if head.startswith(magic):
                return name
    return Image.registered_extensions().get(src.suffix.lower(), "image")


def _nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NONBLOCK)


def unidentified_reason(src: str | os.PathLike) -> str:
    """Why Pillow could not even identify ``src``: empty, text, a known unsupported format."""
    try:
        with open(src, "rb", opener=_nonblocking) as fh:
            head = fh.read(512)
    except OSError as exc:  # gone or locked since it was opened for decoding
        return exc.strerror or "not an image Pillow can read"
    if not head:
        return "empty file (0 bytes)"
    for test, name in _UNREADABLE_FORMATS:
        if test(head):
            return f"{name} file: a format Pillow cannot read"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "not an image (text file)"
    return "not an image Pillow can read"


def decode_reason(exc: Exception, fmt: str) -> str:
    """The reason for an exception raised while reading an identified ``fmt`` file."""
    text = str(exc)
    for pattern, reason in _MISSING_DECODERS:
        if pattern.search(text):
            return reason.format(fmt=fmt)
    if isinstance(exc, NotImplementedError):
        return f"{fmt} variant Pillow cannot decode ({text})"
    if isinstance(exc, EOFError) or "truncated" in text.lower():
        return f"truncated {fmt} ({text})"
    if isinstance(exc, (OSError, SyntaxError, ValueError)):
        return f"corrupt {fmt} ({text})"
    # Anything else is a decoder failing on this file, not ours to crash on.
    return f"{fmt} file Pillow failed to decode ({type(exc).__name__}: {text})"


@contextlib.contextmanager
def input_errors(src: str | os.PathLike, fmt: str | None = None) -> Iterator[None]:
    """Turn whatever reading ``src`` raises into an ImageError naming it, with the reason a
    person would give ("truncated JPEG", "not an image (text)"). Any exception counts: a
    decoder may raise anything on a strange file, and that is the file's failure. Errors of
    the environment (OutputError, MemoryError) and interrupts pass through."""
    src = Path(src)
    try:
        yield
    except (ImageError, OutputError, SourceError, MemoryError):
        raise
    except UnidentifiedImageError:
        raise ImageError(src, unidentified_reason(src)) from None
    except Image.DecompressionBombError as exc:
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(pixels[1]):,} pixels" if pixels else "image"
        raise ImageError(
            src, f"{size} exceeds max_pixels={Image.MAX_IMAGE_PIXELS:,} (decompression bomb?)"
        ) from None
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise ImageError(src, path_reason(src) or exc.strerror or str(exc)) from None
    except Exception as exc:
        raise ImageError(src, decode_reason(exc, fmt or _sniff_format(src))) from None
