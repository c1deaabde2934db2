"""Results files of sweeps (JSON lines or CSV): writing, checking, reading, repairing.

A results file holds records, one per line (after one header line for CSV), each with the
fields of its point, ``seeds, n, lam, mean, stderr`` and ``point`` (the point's identifier).
Records are checked as they are read: a line that does not parse, lacks a field or repeats the
CSV header is *damage*, reported with the file name and the line number; two records of the
same point, ``n`` and ``lam`` are *duplicates*.  Only the text after the last newline is taken
for a write cut off by a kill and dropped.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

__all__ = ["RESULT_FIELDS", "Expected", "Record", "ResultsFileError", "Scan", "cells", "encode",
           "file_format", "problem", "records", "repair", "scan"]

RESULT_FIELDS = ("seeds", "n", "lam", "mean", "stderr", "point")
# Fields read back as integers (the rest as floats, or text where they are not numbers).
INT_FIELDS = ("d", "T", "T0", "n", "seeds")


class ResultsFileError(ValueError):
    """A results file that cannot be trusted as it is (damaged line, duplicates, a point with
    records missing): the message names the file, the lines and what to do."""


class Record(NamedTuple):
    """One record as written: its line number, the byte offset where the line starts, each
    field's text (JSON of the value for JSON lines, the cell for CSV; what identifies it
    exactly) and its point."""

    line: int
    start: int
    text: dict[str, str]
    point: str  # the point identifier (the value, not its JSON text)


def _record(line: int, start: int, fields: dict[str, str], fmt: str) -> Record:
    point = json.loads(fields["point"]) if fmt == "jsonl" else fields["point"]
    return Record(line, start, fields, point)


def file_format(path: Path, fmt: str | None = None) -> str:
    """``fmt``, or the format of ``path`` from its suffix (``.csv``: CSV, else JSON lines)."""
    fmt = fmt or ("csv" if Path(path).suffix == ".csv" else "jsonl")
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"format must be 'jsonl' or 'csv', got {fmt!r}")
    return fmt


def _cell(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def cells(record: dict, fmt: str) -> dict[str, str]:
    """The text of each field of ``record`` as :func:`encode` writes it."""
    if fmt == "jsonl":
        return {k: json.dumps(v) for k, v in record.items()}
    return {k: _cell(v) for k, v in record.items()}


def encode(records: list[dict], fmt: str, *, with_header: bool) -> str:
    """The lines of ``records`` (all with the same fields), with the CSV header if asked."""
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in records)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if with_header:
        writer.writerow(tuple(records[0]))
    for r in records:
        writer.writerow([_cell(v) for v in r.values()])
    return buf.getvalue()


def _damaged(path: Path, line: int, why: str) -> ResultsFileError:
    return ResultsFileError(
        f"{path}, line {line}: damaged record ({why}); nothing was written. Fix or delete that "
        "line (or run the sweep with --repair / repair=True, which keeps a copy in .bak)")


class Scan(NamedTuple):
    """A results file as read: its complete records, the CSV columns (``None`` for JSON
    lines), the byte length of its complete lines (what follows was cut off mid-write) and its
    size."""

    records: list[Record]
    columns: tuple[str, ...] | None
    complete_bytes: int
    size: int


def _lines(path: Path, fmt: str, data: bytes):
    """``(columns, [(line, start, fields or the reason it is damaged)])`` of the complete
    lines of ``data`` (JSON lines, or CSV after its header)."""
    end = data.rfind(b"\n") + 1  # after it: a line cut off mid-write
    raws = data[:end].split(b"\n")[:-1]  # bytes, not splitlines: that also splits at \r, ...
    starts = [0]
    for raw in raws:
        starts.append(starts[-1] + len(raw) + 1)
    columns = None
    out = []
    for i, raw in enumerate(raws):
        try:
            line = raw.decode()
        except UnicodeDecodeError:
            out.append((i + 1, starts[i], "bytes that are not text"))
            continue
        if fmt == "csv" and i == 0:
            columns = tuple(next(csv.reader([line]), []))
            if "point" not in columns:
                out.append((1, 0, "the first line is not a header naming the columns"))
            continue
        out.append((i + 1, starts[i], _parse(line, fmt, columns)))
    return columns, out, end


def _parse(line: str, fmt: str, columns) -> dict[str, str] | str:
    """The fields of one line, or why it is damaged."""
    if fmt == "jsonl":
        try:
            value = json.loads(line)
        except ValueError as exc:
            return f"not JSON: {exc.msg} at column {exc.colno}"
        if not isinstance(value, dict):
            return "not a JSON object"
        fields = {k: json.dumps(v) for k, v in value.items()}
    else:
        if columns is None or "point" not in columns:
            return "no header"
        row = next(csv.reader([line]), [])
        if tuple(row) == columns:
            return "a second header: two runs wrote the file at once?"
        if len(row) != len(columns):
            return f"{len(row)} cells for {len(columns)} columns"
        fields = dict(zip(columns, row))
    return _field_problem(fields, fmt) or fields


def _field_problem(text: dict[str, str], fmt: str) -> str | None:
    missing = [k for k in RESULT_FIELDS if k not in text]
    if missing:
        return f"no field {', '.join(missing)}"
    if fmt == "jsonl" and not text["point"].startswith('"'):
        return f"point is not a string: {text['point']}"
    for k in ("mean", "stderr", "lam"):
        try:
            value = float(json.loads(text[k]) if fmt == "jsonl" else text[k])
        except (TypeError, ValueError):
            return f"{k} is not a number: {text[k]}"
        # A sweep writes neither (its points are refused where the error is infinite, its
        # seeds are at least 2), and a NaN would pass every comparison that checks a point.
        if not math.isfinite(value) or value < 0:
            return f"{k} is not a finite number >= 0: {text[k]}"
    for k in ("n", "seeds"):
        try:
            int(json.loads(text[k]) if fmt == "jsonl" else text[k])
        except (TypeError, ValueError):
            return f"{k} is not an integer: {text[k]}"
    return None


def scan(path: str | os.PathLike, fmt: str) -> Scan:
    """Read and check every complete line of ``path`` (missing: no records).

    Raises
    ------
    ResultsFileError
        A damaged line (with the file name and line number), a second CSV header, or two
        records of the same point, ``n`` and ``lam`` (duplicates).
    """
    path = Path(path)
    if not path.exists():
        return Scan([], None, 0, 0)
    data = path.read_bytes()
    columns, lines, end = _lines(path, fmt, data)
    out = []
    for line, start, fields in lines:
        if isinstance(fields, str):
            raise _damaged(path, line, fields)
        out.append(_record(line, start, fields, fmt))
    _check_duplicates(path, out)
    return Scan(out, columns, end, len(data))


def _check_duplicates(path: Path, recs: list[Record]) -> None:
    seen: dict[tuple[str, str, str], int] = {}
    for rec in recs:
        key = (rec.point, rec.text["n"], rec.text["lam"])
        if key in seen:
            raise ResultsFileError(
                f"{path}: lines {seen[key]} and {rec.line} are two records of the same point "
                f"{key[0]} at n = {key[1]}, lam = {key[2]} (duplicates: two runs wrote the file "
                "at once?); nothing was written. Run the sweep with --repair / repair=True to "
                "keep the first complete copy of each point (the file is copied to .bak)")
        seen[key] = rec.line


def _value(field: str, text: str, fmt: str):
    if fmt == "jsonl":
        return json.loads(text)
    for kind in ((int, float) if field in INT_FIELDS else (float,)):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def records(path: str | os.PathLike, fmt: str) -> Iterator[dict]:
    """The records of ``path`` as dicts of values (CSV numbers parsed), after :func:`scan`'s
    checks; a line cut off at the end is left out with a warning."""
    import warnings

    res = scan(path, fmt)
    if res.complete_bytes < res.size:
        line = len(res.records) + (2 if res.columns else 1)
        warnings.warn(f"{path}, line {line}: cut off mid-write (an interrupted sweep); left "
                      "out (running the sweep again completes it)", stacklevel=3)
    for rec in res.records:
        yield {k: _value(k, t, fmt) for k, t in rec.text.items()}


class Expected(NamedTuple):
    """What a point's records must hold: the text of its parameter fields (and ``seeds``) and
    the set of ``(n, lam)`` texts, one record each."""

    params: dict[str, str]
    grid: frozenset[tuple[str, str]]


def problem(rec: Record, want: Expected) -> str | None:
    """Why ``rec`` is not a record of the point ``want`` describes (``None``: it is)."""
    for k, text in want.params.items():
        if rec.text.get(k) != text:
            return f"{k} = {rec.text.get(k)} where the point has {k} = {text}"
    if (rec.text["n"], rec.text["lam"]) not in want.grid:
        return f"n = {rec.text['n']}, lam = {rec.text['lam']} is not in the point's grid"
    return None


def repair(path: str | os.PathLike, fmt: str, columns: tuple[str, ...] | None,
           expected: dict[str, Expected]) -> str:
    """Rewrite ``path`` keeping, in order, the first copy of each record of the points that are
    complete and consistent (records of points not in ``expected`` are kept as they are) and
    nothing else; the original is copied to ``<path>.bak`` first.  Returns what was done.

    A CSV file whose header is not ``columns`` is not repaired (ResultsFileError).
    """
    import shutil

    path = Path(path)
    if not path.exists():
        return ""
    data = path.read_bytes()
    have, lines, end = _lines(path, fmt, data)
    if fmt == "csv" and have is not None and have != columns:
        raise ResultsFileError(f"{path}: its columns {list(have)} are not this sweep's "
                               f"{list(columns)}; it cannot be repaired for this sweep")
    damaged = [line for line, _, fields in lines if isinstance(fields, str)]
    first: dict[tuple[str, str, str], Record] = {}
    duplicates = 0
    for line, start, fields in lines:
        if isinstance(fields, str):
            continue
        rec = _record(line, start, fields, fmt)
        key = (rec.point, fields["n"], fields["lam"])
        if key in first:
            duplicates += 1
        else:
            first[key] = rec
    by_point: dict[str, list[Record]] = {}
    for rec in first.values():
        by_point.setdefault(rec.point, []).append(rec)
    dropped = set()
    for pid, recs in by_point.items():
        want = expected.get(pid)
        if want is not None and (len(recs) != len(want.grid)
                                 or any(problem(r, want) for r in recs)):
            dropped.add(pid)
    kept = sorted((r for r in first.values() if r.point not in dropped),
                  key=lambda r: r.line)
    raws = data[:end].split(b"\n")
    body = b"".join(raws[r.line - 1] + b"\n" for r in kept)
    head = (raws[0] + b"\n") if fmt == "csv" and kept and have is not None else b""
    new = head + body
    if new == data:
        return ""
    backup = path.with_name(path.name + ".bak")
    shutil.copyfile(path, backup)
    replace_atomically(path, new, path.with_name(path.name + ".tmp"))
    cut = len(data) - end
    parts = [f"kept {len(kept)} records of {len({r.point for r in kept})} points"]
    if damaged:
        shown = ", ".join(map(str, damaged[:10])) + (", ..." if len(damaged) > 10 else "")
        parts.append(f"dropped {len(damaged)} damaged lines ({shown})")
    if duplicates:
        parts.append(f"{duplicates} duplicate records")
    if dropped:
        parts.append(f"the records of {len(dropped)} incomplete or inconsistent points "
                     "(computed again)")
    if cut:
        parts.append("a line cut off at the end")
    return f"repaired {path}: " + ", ".join(parts) + f"; the original is in {backup}"


def replace_atomically(path: Path, data: bytes, tmp: Path) -> None:
    """Write ``data`` to ``tmp``, flush it to disk and rename it to ``path``: a kill leaves the
    old file (or none) or the new one, never a part."""
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
