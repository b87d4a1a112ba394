"""Stream the records of a JSON file whatever its shape: JSON lines, a JSON array, or a document
holding an array under a key (France Travail's search response ``{"resultats": [...]}``).
A ``.jsonl``/``.ndjson`` file is always read as JSON lines; other names are recognised by content.

Plain or gzipped (detected by content, not by name). Memory is bounded by one record, not by the
file: JSON lines are parsed line by line (orjson), arrays element by element from 1 MiB chunks.
Every record comes out as ``(record number, parsed value or an Exception, raw text)``: a line or an
element that is not valid JSON, and the truncated tail of a cut file, come out as exceptions so the
caller can reject them with their number — nothing is silently dropped.
"""
from __future__ import annotations

import codecs
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from forecast.errors import DataError

CHUNK = 1 << 20
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class TruncatedJSON(ValueError):
    """The file ends inside a record."""


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, transparently gunzipping it."""
    try:
        raw = Path(path).open("rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot open ({exc})") from None
    head = raw.read(2)
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw  # type: ignore[return-value]


def _first_line(fh: IO[bytes], path: Path) -> tuple[bytes, str]:
    """Read at least the first two non-blank lines (up to 64 MiB); return (bytes read, first character)."""
    parts: list[bytes] = []
    n = 0
    try:
        while True:
            chunk = fh.read(65536)
            parts.append(chunk)
            n += len(chunk)
            if not chunk or n > 1 << 26 or (b"\n" in chunk and len(_nonblank_lines(b"".join(parts), 3)) > 2):
                break
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    buf = b"".join(parts)
    text = buf.lstrip(b"\xef\xbb\xbf \t\r\n")
    return buf, chr(text[0]) if text else ""


def _nonblank_lines(head: bytes, k: int) -> list[bytes]:
    """The first ``k`` non-blank lines of ``head`` (stripped; the last may be incomplete)."""
    out: list[bytes] = []
    for line in head.lstrip(b"\xef\xbb\xbf").split(b"\n"):
        line = line.strip()
        if line:
            out.append(line)
            if len(out) >= k:
                break
    return out


def _parses(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return _INVALID


_INVALID = object()


def sniff(path: Path, head: bytes, key: str = "resultats") -> str:
    """How to read a JSON file: ``"lines"`` (one record a line) or ``"document"`` (an array, or an
    object holding one under ``key``), from its name and its first lines.

    A ``[`` first line that is not valid JSON on its own but is followed by a line that is a whole
    JSON object is a broken first line of JSON lines (it is rejected, the others are read); a
    document whose elements are broken is read element by element, see :func:`_iter_array`.
    """
    if _named_lines(path):
        return "lines"
    lines = _nonblank_lines(head, 3)
    if not lines:
        return "lines"
    first = lines[0][:1]
    if first == b"[":
        if len(lines) >= 2 and lines[0] != b"[" and _parses(lines[0]) is _INVALID \
                and isinstance(_parses(lines[1]), dict):
            return "lines"
        return "document"
    if first == b"{" and not _is_json_lines(head, key):
        return "document"
    return "lines"


def iter_json_records(path: Path, key: str = "resultats") -> Iterator[tuple[int, Any, str]]:
    """Yield ``(record number, value or Exception, raw)`` for every record of a JSON file."""
    path = Path(path)
    fh = open_binary(path)
    with fh:
        head, first = _first_line(fh, path)
        if not first:
            return
        if sniff(path, head, key) == "document":
            yield from _iter_document(fh, head, path, key)
        else:
            yield from _iter_lines(fh, head, path)


def _named_lines(path: Path) -> bool:
    """A .jsonl / .ndjson file (gzipped or not) is JSON lines whatever its first line looks like."""
    name = path.name.lower().removesuffix(".gz")
    return name.endswith((".jsonl", ".ndjson"))


def _is_json_lines(head: bytes, key: str) -> bool:
    """A first line that is a whole JSON object (other than a search response) means JSON lines."""
    line = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0].strip()
    try:
        first = orjson.loads(line)
    except orjson.JSONDecodeError:
        # a broken first line (bad encoding, cut) that is still one line, or a one-line file:
        # JSON lines, and that line is rejected
        one_line = b"\n" not in head.strip(b"\xef\xbb\xbf \t\r\n")
        return line.startswith(b"{") and (line.endswith(b"}") or one_line)
    return isinstance(first, dict) and not isinstance(first.get(key), list)


def _iter_raw_lines(fh: IO[bytes], head: bytes) -> Iterator[tuple[int, bytes | Exception]]:
    """(line number, stripped non-blank line) for every line; a read failure comes out as an exception."""
    lineno = 0
    pending = head
    try:
        while True:
            chunk = fh.read(CHUNK)
            data = pending + chunk
            if not chunk:
                lines, pending = data.split(b"\n"), b""
            else:
                lines = data.split(b"\n")
                pending = lines.pop()
            for line in lines:
                lineno += 1
                if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
                line = line.strip()
                if line:
                    yield lineno, line
            if not chunk:
                return
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        yield lineno + 1, TruncatedJSON(f"file unreadable after line {lineno} ({exc})")


def parse_line(line: bytes) -> tuple[Any, str]:
    """(value, "") or (the decoding exception, the line as text)."""
    try:
        return orjson.loads(line), ""
    except orjson.JSONDecodeError as exc:
        return exc, line.decode("utf-8", "replace")


def _iter_lines(fh: IO[bytes], head: bytes, path: Path) -> Iterator[tuple[int, Any, str]]:
    for lineno, line in _iter_raw_lines(fh, head):
        if isinstance(line, Exception):
            yield lineno, line, ""
        else:
            yield lineno, *parse_line(line)


@dataclass(frozen=True)
class LineBlock:
    """Whole lines of a JSON lines file, as read (for parsing in a worker process): ``data`` holds
    lines ``first``, ``first + 1``, ... separated by ``\\n``; ``error`` is a read failure after them."""

    first: int
    data: bytes
    error: Exception | None = None
    error_line: int = 0

    def lines(self) -> Iterator[tuple[int, bytes | Exception]]:
        """(line number, stripped non-blank line), then the read failure if any."""
        for lineno, line in enumerate(self.data.split(b"\n"), self.first):
            if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            line = line.strip()
            if line:
                yield lineno, line
        if self.error is not None:
            yield self.error_line, self.error


def iter_line_blocks(path: Path, size: int, key: str = "resultats") -> Iterator[LineBlock] | None:
    """Blocks of about ``size`` bytes of whole lines when the file is JSON lines (for parallel
    parsing: the lines are split and numbered by the worker), else None."""
    path = Path(path)
    fh = open_binary(path)
    head, first = _first_line(fh, path)
    if not first or sniff(path, head, key) != "lines":
        fh.close()
        return None

    def blocks() -> Iterator[LineBlock]:
        lineno = 1
        pending = head
        parts: list[bytes] = []
        n = 0
        with fh:
            while True:
                try:
                    chunk = fh.read(CHUNK)
                except (OSError, EOFError, gzip.BadGzipFile) as exc:
                    data = pending + b"".join(parts)
                    cut = data.rfind(b"\n")
                    whole = data[:cut] if cut >= 0 else b""
                    at = lineno + (whole.count(b"\n") + 1 if cut >= 0 else 0)   # the line being read
                    yield LineBlock(lineno, whole, TruncatedJSON(f"file unreadable after line {at - 1} ({exc})"), at)
                    return
                if chunk:
                    parts.append(chunk)
                    n += len(chunk)
                    if n < size:
                        continue
                data = pending + b"".join(parts)
                parts, n = [], 0
                if not chunk:   # end of file: the rest is the last line(s)
                    if data:
                        yield LineBlock(lineno, data)
                    return
                cut = data.rfind(b"\n")
                if cut < 0:
                    pending = data
                    continue
                block, pending = data[:cut], data[cut + 1:]
                yield LineBlock(lineno, block)
                lineno += block.count(b"\n") + 1
    return blocks()


class BadElement(ValueError):
    """An element of a JSON array that is not valid JSON (the next elements are still read)."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


class _Text:
    """Incrementally decoded text buffer over a byte stream. Bytes that are not UTF-8 are kept as
    lone surrogates (``surrogateescape``) so that only the elements holding them are rejected."""

    def __init__(self, fh: IO[bytes], head: bytes) -> None:
        self.fh = fh
        self.dec = codecs.getincrementaldecoder("utf-8-sig")("surrogateescape")
        self.buf = self.dec.decode(head)
        self.pos = 0
        self.eof = False

    def more(self) -> bool:
        if self.eof:
            return False
        chunk = self.fh.read(CHUNK)
        if not chunk:
            self.eof = True
            self.buf = self.buf[self.pos:] + self.dec.decode(b"", final=True)
        else:
            self.buf = self.buf[self.pos:] + self.dec.decode(chunk)
        self.pos = 0
        return True

    def skip_ws(self) -> str:
        """Skip blanks; return the next character ('' at end of file)."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def value(self) -> tuple[Any, str]:
        """Decode the next JSON value, reading more text as needed. An invalid value raises
        :class:`BadElement` with the position moved past it (see :meth:`skip_bad`); a value cut by
        the end of the file raises :class:`TruncatedJSON`."""
        self.skip_ws()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                stop = self.skip_bad()
                if stop is None:   # no end of the element before the end of the buffer: read on
                    if self.more():
                        continue
                    tail = self.buf[self.pos:self.pos + 500]
                    raise TruncatedJSON(f"the file ends inside this record or it is not valid JSON: {tail[:80]!r}") from None
                raw = self.buf[self.pos:stop]
                self.pos = stop
                raise BadElement(f"{exc.msg}: {raw[:80]!r}", raw[:500]) from None
            if end == len(self.buf) and not self.eof and self.more():
                continue   # a number or literal cut by the buffer's end: decode it whole
            raw = self.buf[self.pos:end] if end - self.pos <= 500 else ""
            text_bad = _SURROGATE.search(self.buf, self.pos, end)
            self.pos = end
            if text_bad:
                raise UnicodeDecodeError("utf-8", b"", 0, 1, "bytes that are not UTF-8 in this record")
            return obj, raw

    def skip_bad(self) -> int | None:
        """End of the invalid element starting at ``pos``: the ``,`` that follows it at its own
        nesting level, the ``]`` that closes the array, the start of a new object or array after it,
        or the line break that cuts one of its strings (a JSON string never spans lines); None when
        the buffer ends first."""
        buf, i, depth, seen = self.buf, self.pos, 0, False
        while True:
            m = _SPECIAL.search(buf, i)
            if m is None:
                return None
            c, i = m.group(), m.start()
            if c == '"':
                seen = True
                e = _STRING_END.search(buf, i + 1)
                if e is None:
                    return None
                if e.group(1) == "\n":   # a string cut by a line break: the element ends there
                    return e.end(1) - 1
                i = e.end()
                continue
            if c in "{[":
                if depth == 0 and seen:
                    return i
                depth += 1
            elif c in "}]":
                if depth == 0 and c == "]":
                    return i
                depth = max(depth - 1, 0)
            elif c == "," and depth == 0:
                return i
            seen = seen or c not in "\n"
            i += 1


_SPECIAL = re.compile(r'["{}\[\],\n]|[^"{}\[\],\n \t\r]')
_STRING_END = re.compile(r'(?:[^"\\\n]|\\.)*("|\n)')
_SURROGATE = re.compile("[\udc80-\udcff]")


def _iter_document(fh: IO[bytes], head: bytes, path: Path, key: str) -> Iterator[tuple[int, Any, str]]:
    try:
        t = _Text(fh, head)
        c = t.skip_ws()
        if c == "[":
            t.pos += 1
            yield from _iter_array(t)
            return
        # an object: skip members until ``key``, whose array is streamed
        t.pos += 1
        while True:
            c = t.skip_ws()
            if c == "}" or c == "":
                raise DataError(f"{path}: JSON document holds no '{key}' list of offers")
            if c == ",":
                t.pos += 1
                continue
            name, _ = t.value()
            if t.skip_ws() != ":":
                raise DataError(f"{path}: not valid JSON (expected ':' after {name!r})")
            t.pos += 1
            if name == key:
                if t.skip_ws() != "[":
                    raise DataError(f"{path}: JSON document holds no '{key}' list of offers")
                t.pos += 1
                yield from _iter_array(t)
                return
            t.value()
    except (TruncatedJSON, BadElement, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def _iter_array(t: _Text) -> Iterator[tuple[int, Any, str]]:
    """The elements of an array; an invalid one comes out as an exception and reading goes on after
    it, so that one broken record does not lose the records that follow."""
    n = 0
    while True:
        c = t.skip_ws()
        if c == "]":
            t.pos += 1
            return
        if c == ",":
            t.pos += 1
            continue
        n += 1
        if c == "":
            yield n, TruncatedJSON("the file ends before the closing ']' of the list"), ""
            return
        try:
            obj, raw = t.value()
        except (BadElement, UnicodeDecodeError) as exc:
            yield n, exc, getattr(exc, "raw", "")
            continue
        except TruncatedJSON as exc:
            yield n, exc, ""
            return
        yield n, obj, raw
