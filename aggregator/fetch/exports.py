"""Internal exports (CSV or JSON lines, e.g. from a CRM) mapped to items by ``spec.columns``.

A mapped column that the export lacks is an error naming it and the columns present,
because nothing useful can come out of that export until config.yaml is fixed. A bad
row (no title, wrong number of fields, a field over csv's 128 KiB limit, not a JSON
object) is skipped and counted.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from aggregator.config.schema import ExportColumns
from aggregator.fetch.errors import ParseError
from aggregator.fetch.items import RawItem
from aggregator.fetch.sanitize import strip_invalid, text_to_html

MAX_ROWS = 100_000
MAPPED = ("id", "title", "body", "date", "author", "prospect", "link")


@dataclass(frozen=True)
class ParsedExport:
    """Rows turned into entries, and how many bad rows were skipped."""

    entries: list[RawItem]
    skipped: int


def decode_text(body: bytes) -> str:
    """UTF-8 (BOM allowed), else Windows-1252, which is what spreadsheets save when not UTF-8."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = body.decode("cp1252", errors="replace")
    return strip_invalid(text)


def guess_format(url: str, columns: ExportColumns, text: str) -> str:
    """``columns.format``, else from the file name, else from the first character."""
    if columns.format:
        return columns.format
    path = url.split("?", 1)[0].lower()
    if path.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if path.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def _mapping(columns: ExportColumns) -> dict[str, str]:
    return {name: value for name in MAPPED if isinstance(value := getattr(columns, name), str) and value}


def _missing(mapping: dict[str, str], present: list[str]) -> None:
    for field, column in mapping.items():
        if column not in present:
            shown = ", ".join(repr(p) for p in present[:30]) or "none"
            raise ParseError(f"the export has no column {column!r} (mapped as {field}); columns present: {shown}")


def _entry(row: dict[str, Any], mapping: dict[str, str]) -> RawItem | None:
    def get(field: str) -> str | None:
        column = mapping.get(field)
        value = row.get(column) if column else None
        if value is None or isinstance(value, dict | list):
            return None
        return str(value).strip() or None

    title = get("title")
    if not title:
        return None
    body = get("body") or ""
    return RawItem(
        title=title,
        link=get("link"),
        content_html=text_to_html(body),
        published=get("date"),
        author=get("author"),
        guid=get("id"),
        prospect_hint=get("prospect"),
    )


#: delimiters spreadsheets and CRMs write, in order of preference when the header has as many of each
_DELIMITERS = ",;\t|"
#: a delimiter that cannot occur (decode_text strips it): a one-column export keeps its commas
_NO_DELIMITER = "\x1f"


def delimiter_of(text: str) -> str:
    """The delimiter the header row uses most, outside quotes; a one-column header has none.

    The header is the one row whose cells are names, which a sample of data rows is not:
    csv.Sniffer, guessing from many rows, read a semicolon export with a quoted ";" in a
    note, or a one-column export whose titles held commas, with the wrong delimiter.
    """
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in text[: text.find("\n") if "\n" in text else len(text)]:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=counts.__getitem__)  # the first of equals: comma before semicolon
    return best if counts[best] else _NO_DELIMITER


def _csv_rows(text: str) -> tuple[list[str], list[dict[str, Any] | None]]:
    reader = csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=delimiter_of(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ParseError("the export is empty") from None
    except csv.Error as exc:
        raise ParseError(f"the export's header row is not valid CSV ({exc})") from exc
    rows: list[dict[str, Any] | None] = []
    while len(rows) < MAX_ROWS:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error:
            rows.append(None)
            continue
        if not any(v.strip() for v in values):
            continue  # blank lines are not rows
        rows.append(dict(zip(header, values, strict=True)) if len(values) == len(header) else None)
    return header, rows


def _jsonl_rows(text: str) -> tuple[list[str], list[dict[str, Any] | None]]:
    present: dict[str, None] = {}
    rows: list[dict[str, Any] | None] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if len(rows) >= MAX_ROWS:
            break
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            rows.append(None)
            continue
        if not isinstance(row, dict):
            rows.append(None)
            continue
        present.update(dict.fromkeys(row))
        rows.append(row)
    if not rows:
        raise ParseError("the export is empty")
    return list(present), rows


def parse_export(body: bytes, *, url: str, columns: ExportColumns | None) -> ParsedExport:
    """Entries of a CSV/JSON-lines export; raises ParseError when columns are missing."""
    if columns is None:
        raise ParseError("an export source needs 'columns' in config.yaml (at least 'title')")
    if not body.strip():
        raise ParseError("the export is empty")
    text = decode_text(body)
    fmt = guess_format(url, columns, text)
    present, rows = _csv_rows(text) if fmt == "csv" else _jsonl_rows(text)
    mapping = _mapping(columns)
    _missing(mapping, present)
    entries: list[RawItem] = []
    skipped = 0
    for row in rows:
        entry = _entry(row, mapping) if row is not None else None
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return ParsedExport(entries, skipped)
