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
    """Read at least the first non-blank line (up to 64 MiB); return (bytes read, first character)."""
    buf = b""
    try:
        while True:
            chunk = fh.read(65536)
            buf += chunk
            text = buf.lstrip(b"\xef\xbb\xbf \t\r\n")
            if not chunk or (text and (b"\n" in text or len(buf) > 1 << 26)):
                return buf, chr(text[0]) if text else ""
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def iter_json_records(path: Path, key: str = "resultats") -> Iterator[tuple[int, Any, str]]:
    """Yield ``(record number, value or Exception, raw)`` for every record of a JSON file."""
    path = Path(path)
    fh = open_binary(path)
    with fh:
        head, first = _first_line(fh, path)
        if not first:
            return
        if not _named_lines(path) and (first == "[" or (first == "{" and not _is_json_lines(head, key))):
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


def iter_line_chunks(path: Path, size: int, key: str = "resultats") -> Iterator[list[tuple[int, bytes | Exception]]] | None:
    """Chunks of ``size`` raw lines when the file is JSON lines (for parallel parsing), else None."""
    path = Path(path)
    fh = open_binary(path)
    head, first = _first_line(fh, path)
    if not first or (not _named_lines(path) and (first == "[" or not _is_json_lines(head, key))):
        fh.close()
        return None

    def chunks() -> Iterator[list[tuple[int, bytes | Exception]]]:
        with fh:
            buf: list[tuple[int, bytes | Exception]] = []
            for item in _iter_raw_lines(fh, head):
                buf.append(item)
                if len(buf) >= size:
                    yield buf
                    buf = []
            if buf:
                yield buf
    return chunks()


class _Text:
    """Incrementally decoded text buffer over a byte stream."""

    def __init__(self, fh: IO[bytes], head: bytes) -> None:
        self.fh = fh
        self.dec = codecs.getincrementaldecoder("utf-8-sig")("strict")
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
        """Decode the next JSON value, reading more text as needed."""
        self.skip_ws()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if self.more():
                    continue
                tail = self.buf[self.pos:self.pos + 500]
                raise TruncatedJSON(f"the file ends inside this record or it is not valid JSON: {tail[:80]!r}") from None
            raw = self.buf[self.pos:end] if end - self.pos <= 500 else ""
            self.pos = end
            return obj, raw


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
    except TruncatedJSON as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not readable as UTF-8 JSON ({exc})") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def _iter_array(t: _Text) -> Iterator[tuple[int, Any, str]]:
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
        except TruncatedJSON as exc:
            yield n, exc, ""
            return
        except UnicodeDecodeError as exc:
            yield n, exc, ""
            return
        yield n, obj, raw
