"""JSON lines, parsed in chunks of whole lines: bounded memory, errors naming file and line.

A source is read through pyarrow's decompressing stream (gzip, zstd) in fixed-size chunks
cut at a newline, and each chunk is parsed by ``pyarrow.json.read_json`` on its own. The
chunk size is a constant, not a function of the memory setting, so the same bytes always
give the same chunks, the same row groups and the same staged bytes. Each chunk's first line
number is known, so a broken record is named by file and line. JSON has no timestamp type:
strings stay strings (pyarrow would turn ISO-8601 second-resolution strings into
timestamps, and only in the chunks where every value happens to look like one).
"""

import json
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.json as pajson

from curation.storage import Location

#: Decompressed bytes per chunk (a line longer than this makes its chunk longer).
CHUNK_BYTES = 16 << 20
_ISO = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
_COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}


class JsonLinesError(ValueError):
    """A JSON lines file that cannot be read as records; the message names file and line."""


def compression_of(path: str) -> str | None:
    """The stream codec for a file name (by suffix), or None for plain text."""
    for suffix, codec in _COMPRESSION.items():
        if path.lower().endswith(suffix):
            return codec
    return None


def line_chunks(stream, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, pa.Buffer]]:
    """``(first line number, bytes)`` of consecutive chunks that end at a newline (the last
    may not); lines are numbered from 1. A chunk is a zero-copy view of what was read (only
    the cut-off partial line is copied), and the previous chunk is let go before the next
    is read, so a file holds about one chunk here."""
    line, rest = 1, b""
    while True:
        data = bytearray(rest)
        data += stream.read(chunk_bytes)
        if len(data) == len(rest):  # end of the stream
            if rest.strip():
                yield line, pa.py_buffer(rest)
            return
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # one line longer than the chunk: keep reading until it ends
            rest = bytes(data)
            continue
        rest = bytes(data[cut:])
        yield line, pa.py_buffer(data).slice(0, cut)
        line += data.count(b"\n", 0, cut)
        del data


def _check_utf8(data: pa.Buffer, uri: str, first_line: int) -> None:
    """pyarrow's JSON reader replaces invalid UTF-8 silently; refuse it by line instead
    (the check is Arrow's vectorised validation, ~1 ms per 16 MiB)."""
    offsets = pa.py_buffer(struct.pack("=ii", 0, data.size))  # not pa.array: no pandas import
    try:
        pa.Array.from_buffers(pa.string(), 1, [None, offsets, data]).validate(full=True)
    except pa.ArrowInvalid:
        data = data.to_pybytes()  # the error path only
        try:
            data.decode("utf-8")
            return
        except UnicodeDecodeError as exc:
            line = first_line + data.count(b"\n", 0, exc.start)
            raise JsonLinesError(
                f"{uri}: invalid UTF-8 byte {data[exc.start : exc.start + 1]!r} on line {line}; "
                "re-encode the file as UTF-8"
            ) from None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string"}.get(
        type(value), "list" if isinstance(value, list) else "object"
    )


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text} does not fit a 64-bit float")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def broken_line(data: bytes, uri: str, first_line: int, why: str) -> JsonLinesError:
    """Error path only: name the first line of the chunk that is not a JSON object, or
    whose field changes type against an earlier line of the chunk."""
    kinds: dict[str, tuple[str, int]] = {}
    for number, text in enumerate(data.split(b"\n"), start=first_line):
        if not text.strip():
            continue
        try:
            row = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
        except ValueError as exc:
            return JsonLinesError(f"{uri}: line {number} is not valid JSON ({exc}): {text[:80]!r}")
        if not isinstance(row, dict):
            return JsonLinesError(f"{uri}: line {number} is not a JSON object: {text[:80]!r}")
        for key, value in row.items():
            kind = _kind(value)
            first = kinds.setdefault(key, (kind, number))
            if first[0] == "null":
                kinds[key] = (kind, number)
            elif kind != "null" and kind != first[0]:
                return JsonLinesError(
                    f"{uri}: field {key!r} is a {kind} on line {number} but a {first[0]} on "
                    f"line {first[1]}; a column must have one type (quote ids to keep strings)"
                )
    last = first_line + data.count(b"\n")
    return JsonLinesError(f"{uri}: lines {first_line}-{last} cannot be parsed: {why}")


def _has_timestamp(kind: pa.DataType) -> bool:
    if pa.types.is_timestamp(kind):
        return True
    return any(_has_timestamp(kind.field(i).type) for i in range(kind.num_fields))


def _strings_for_timestamps(kind: pa.DataType) -> pa.DataType:
    """The type with every timestamp replaced by string (struct and list children too)."""
    if pa.types.is_timestamp(kind):
        return pa.string()
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_strings_for_timestamps(f.type)) for f in kind])
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        value = kind.value_field.with_type(_strings_for_timestamps(kind.value_type))
        return pa.list_(value) if pa.types.is_list(kind) else pa.large_list(value)
    return kind


@dataclass
class ChunkParser:
    """Parses one file's chunks, remembering which fields must be read as strings and the
    order fields first appeared in, so every chunk comes out in that order."""

    uri: str
    threads: bool = False
    hints: dict[str, pa.DataType] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    primed: bool = False

    def _prime(self, data: pa.Buffer) -> None:
        """From the file's first record: its field order, and the top-level strings that
        look like timestamps, read as strings from the start (saves parsing the first chunk
        twice; anything missed here is caught by the check after parsing)."""
        self.primed = True
        data = data.slice(0, min(data.size, 1 << 20)).to_pybytes()  # a long first line: skip
        start = 0
        while start < len(data):  # the first non-blank line, without splitting the chunk
            end = data.find(b"\n", start)
            if end < 0:
                return
            text, start = data[start:end], end + 1
            if text.strip():
                try:
                    row = json.loads(text)
                except ValueError:
                    return  # the parse names the line
                if isinstance(row, dict):
                    self.order = list(row)
                    self.hints.update(
                        {
                            k: pa.string()
                            for k, v in row.items()
                            if isinstance(v, str) and _ISO.match(v)
                        }
                    )
                return

    def parse(self, first_line: int, data: pa.Buffer | bytes) -> pa.Table | None:
        """The chunk's rows (None when it holds only blank lines)."""
        if not isinstance(data, pa.Buffer):
            data = pa.py_buffer(data)
        _check_utf8(data, self.uri, first_line)
        if not self.primed:
            self._prime(data)
        table = self._read(first_line, data, self.hints)
        if table is None:
            return None
        stamped = {
            f.name: _strings_for_timestamps(f.type)
            for f in table.schema
            if f.name not in self.hints and _has_timestamp(f.type)
        }
        names = [n for n in table.column_names if n not in self.hints]
        if stamped:
            self.hints.update(stamped)
            table = self._read(first_line, data, self.hints)
        self.order += [n for n in names if n not in self.order]
        self.order += [n for n in table.column_names if n not in self.order]
        present = set(table.column_names)
        return table.select([n for n in self.order if n in present])

    def _read(self, first_line: int, data: pa.Buffer, hints: dict) -> pa.Table | None:
        schema = pa.schema(list(hints.items())) if hints else None
        block = 1 << 20 if self.threads else data.size + 1
        for attempt in range(3):
            try:
                return pajson.read_json(
                    pa.BufferReader(data),
                    read_options=pajson.ReadOptions(use_threads=self.threads, block_size=block),
                    parse_options=pajson.ParseOptions(explicit_schema=schema),
                )
            except pa.ArrowInvalid as exc:
                text = str(exc)
                if text.startswith("Empty JSON"):
                    return None
                if "straddl" in text and attempt == 0:
                    block = data.size + 1  # a line longer than the block: one block
                    continue
                if schema is not None and attempt < 2:
                    schema = None  # a hinted field holds another type here: infer it
                    continue
                raise broken_line(data.to_pybytes(), self.uri, first_line, text) from None
        raise AssertionError("unreachable")


def iter_tables(loc: Location, threads: bool = False) -> Iterator[tuple[int, pa.Table]]:
    """``(first line, table)`` per chunk of a JSON lines file (gzip/zstd by suffix)."""
    parser = ChunkParser(loc.uri, threads=threads)
    with loc.fs.open_input_stream(loc.path, compression=compression_of(loc.path)) as stream:
        try:
            for line, data in line_chunks(stream):
                table = parser.parse(line, data)
                if table is not None and table.num_rows:
                    yield line, table
        except OSError as exc:  # a cut-short or corrupt compressed stream
            raise JsonLinesError(f"{loc.uri}: cannot decompress ({exc})") from exc
