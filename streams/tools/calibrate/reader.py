"""Reading a history export: one row per lead, CSV or JSONL.

Only the columns calibration uses are read (activity counts, `converted`,
and `lead_id` when present); anything else is ignored, so a CRM export with
extra columns works as is. A bad value stops the run with the row and column
named: a silently skipped row would bias the rates.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from streams.core.model import ACTIVITIES

_TRUE = frozenset({"1", "true", "yes", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "n", "f"})
_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})


class HistoryError(ValueError):
    """A history export that cannot be used; the message names the file, row and column."""


# A raw row: its number (from 1), where it is for messages, and its fields.
Row = tuple[int, str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Lead:
    """One lead of the history: its activity counts and whether it became a customer."""

    key: str  # lead_id, or the row number when the export has none (used for the split)
    counts: dict[str, int]  # only activities with count >= 1
    converted: bool


@dataclass(frozen=True, slots=True)
class History:
    """The leads of an export, and the activities it has a column for."""

    leads: list[Lead]
    activities: tuple[str, ...]


def read_history(path: Path) -> History:
    """Read a CSV or JSONL export ('-' for CSV or JSONL on stdin)."""
    if str(path) == "-":
        return _read(sys.stdin, "<stdin>", None)
    try:
        with path.open(encoding="utf-8", newline="") as stream:
            return _read(stream, str(path), _is_jsonl(path))
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read history: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise HistoryError(f"{path}: not UTF-8 text: {exc.reason}") from exc


def _is_jsonl(path: Path) -> bool | None:
    """JSONL or CSV by the file name; None (look at the content) when the name does not say."""
    suffix = path.suffix.lower()
    if suffix in _JSONL_SUFFIXES:
        return True
    return False if suffix in {".csv", ".txt"} else None


def _read(stream: TextIO, source: str, jsonl: bool | None) -> History:
    first = stream.readline()
    if jsonl is None:  # stdin or an unknown suffix: a JSON object or a CSV header?
        jsonl = first.lstrip().startswith("{")
    lines = _chain(first, stream)
    if jsonl:
        return _collect(_jsonl_rows(lines, source), set(), source)
    reader = csv.DictReader(lines)
    header = set(reader.fieldnames or [])
    if "converted" not in header:
        raise HistoryError(f"{source}: no 'converted' column (header: {sorted(header)[:20]})")
    rows = ((n, f"row {n} (line {reader.line_num})", row) for n, row in enumerate(reader, 1))
    return _collect(rows, header, source)


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


def _jsonl_rows(lines: Iterable[str], source: str) -> Iterator[Row]:
    n = 0
    for line_num, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        n += 1
        where = f"row {n} (line {line_num})"
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HistoryError(f"{source}: {where}: not valid JSON: {exc.msg}") from None
        if not isinstance(doc, dict):
            raise HistoryError(f"{source}: {where}: expected one JSON object per line")
        yield n, where, doc


def _collect(rows: Iterable[Row], columns: set[str], source: str) -> History:
    """Leads from raw rows; an activity counts as exported if any row (or the header) has it.

    JSONL rows may leave out zero counts, so a key missing from one row means 0.
    """
    leads = []
    seen = set(columns)
    for n, where, row in rows:
        leads.append(_lead(row, n, f"{source}: {where}"))
        if not columns:
            seen.update(row)
    if not leads:
        raise HistoryError(f"{source}: no rows")
    activities = tuple(a for a in ACTIVITIES if a in seen)
    if not activities:
        raise HistoryError(f"{source}: no activity column; expected some of {list(ACTIVITIES)}")
    return History(leads, activities)


def _lead(row: Mapping[str, Any], n: int, where: str) -> Lead:
    counts = {}
    for name in ACTIVITIES:
        count = _count(row.get(name), where, name)
        if count:
            counts[name] = count
    converted = _flag(row.get("converted"), where)
    lead_id = row.get("lead_id")
    key = str(lead_id) if lead_id not in (None, "") else f"#{n}"
    return Lead(key, counts, converted)


def _count(value: Any, where: str, column: str) -> int:
    """A non-negative whole count; an empty cell or null means none."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):  # JSON true is not a count (bool is an int in Python)
        raise HistoryError(f"{where}, column {column!r}: {value!r} is not a count")
    number: float | int
    if isinstance(value, int | float):
        number = value
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise HistoryError(f"{where}, column {column!r}: {value!r} is not a count") from None
    if not (math.isfinite(number) and 0 <= number <= 1e9 and float(number).is_integer()):
        raise HistoryError(
            f"{where}, column {column!r}: {value!r} is not a non-negative whole count"
        )
    return int(number)


def _flag(value: Any, where: str) -> bool:
    """`converted`: 0/1 (also true/false, yes/no); a missing outcome is an error, not a 0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return value == 1
    text = str(value).strip().lower() if value is not None else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if value is None:
        raise HistoryError(f"{where}, column 'converted': missing (every lead needs its outcome)")
    raise HistoryError(f"{where}, column 'converted': {value!r} is not 0 or 1")
