"""Text encodings of input files: detected (UTF-8, UTF-16, Windows-1256), or given with ``--encoding``.

Bytes that do not decode survive as surrogate escapes, so only the row holding them is quarantined.
"""

from __future__ import annotations

import codecs
import gzip
import io
import logging
from collections.abc import Iterator
from pathlib import Path

from sada.pipeline.errors import InputError

__all__ = ["check_encoding", "detect_encoding", "open_binary", "open_text", "text_lines"]

logger = logging.getLogger(__name__)

def check_encoding(encoding: str | None) -> str | None:
    """The encoding's canonical name, None when not given.

    Raises:
        InputError: Python knows no such encoding.
    """
    if encoding is None:
        return None
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}; expected a codec name such as utf-8, cp1256 or utf-16, "
                         "or leave --encoding out to detect it") from None


_SAMPLE_BYTES = 1 << 20


def detect_encoding(sample: bytes) -> str:
    """Guess the text encoding of a file from its first bytes.

    BOMs decide first; then UTF-16 without BOM (Arabic script puts 0x06 in
    every other byte); then UTF-8 if nearly all multi-byte sequences are
    valid; otherwise Windows-1256, the usual legacy Arabic code page.

    Example:
        >>> detect_encoding("سلام".encode("cp1256"))
        'cp1256'
        >>> detect_encoding("سلام".encode("utf-8"))
        'utf-8'
        >>> detect_encoding(codecs.BOM_UTF8 + b"x")
        'utf-8-sig'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        high = {0x00, 0x06, 0x20, 0xFB, 0xFE}
        if sum(b in high for b in odd) > 0.9 * len(odd) and odd.count(0) + odd.count(6) > 0.5 * len(odd):
            return "utf-16-le"
        if sum(b in high for b in even) > 0.9 * len(even) and even.count(0) + even.count(6) > 0.5 * len(even):
            return "utf-16-be"
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(sample, final=False)
    bad = text.count("\ufffd")
    valid = sum(ord(ch) >= 0x80 for ch in text) - bad
    # Windows-1256 bytes almost never form valid UTF-8 sequences; a few stray bytes in a UTF-8 file do not
    # make it Windows-1256 (their rows are quarantined as undecodable instead).
    return "utf-8" if valid >= 3 * bad else "cp1256"


def open_binary(path: Path):
    """The file's bytes, decompressed when it ends in .gz."""
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


def _chosen_encoding(path: Path, encoding: str | None) -> str:
    if encoding:
        return encoding
    with open_binary(path) as handle:
        return detect_encoding(handle.read(_SAMPLE_BYTES))


def open_text(path: Path, encoding: str | None = None) -> io.TextIOWrapper:
    """Open a text file in its detected (or the given) encoding; undecodable bytes become surrogate escapes."""
    chosen = _chosen_encoding(path, encoding)
    logger.debug("%s: reading as %s", path, chosen)
    # surrogateescape keeps undecodable bytes so only their row is quarantined
    errors = "surrogateescape" if not chosen.startswith("utf-16") else "replace"
    return io.TextIOWrapper(open_binary(path), encoding=chosen, errors=errors, newline="")


def text_lines(path: Path, encoding: str | None = None) -> Iterator[str]:
    """The file's lines as text, line endings kept.

    A file detected as Windows-1256 is decoded line by line: a line that is
    valid UTF-8 (and not plain ASCII) is read as UTF-8, since Windows-1256
    Arabic practically never forms valid UTF-8; other lines as Windows-1256.
    """
    chosen = _chosen_encoding(path, encoding)
    if chosen != "cp1256" or encoding:
        with open_text(path, chosen) as handle:
            yield from handle
        return
    with open_binary(path) as handle:
        for line in handle:
            yield _decode_legacy_line(line)


def _decode_legacy_line(line: bytes) -> str:
    """One line of a Windows-1256 file that may hold UTF-8 lines.

    Example:
        >>> _decode_legacy_line("سلام\\n".encode("utf-8")), _decode_legacy_line("سلام\\n".encode("cp1256"))
        ('سلام\\n', 'سلام\\n')
    """
    if line.isascii():
        return line.decode("ascii")
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1256", errors="surrogateescape")
