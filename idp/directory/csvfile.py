"""Reading the import files: UTF-8 CSV (with or without a BOM), a header line, one row a line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from idp.errors import ValidationFailed

if TYPE_CHECKING:
    import _csv

# Other spellings accepted in the header, mapped to the documented column names.
HEADER_ALIASES = {
    "e_mail": "email",
    "mail": "email",
    "alias": "aliases",
    "name": "full_name",
    "fullname": "full_name",
    "unit": "unit_code",
    "phone_number": "phone",
    "parent": "parent_code",
    "role": "roles",
    # LDIF and mail-system exports: the hash as the mail system stores it (legacy.py).
    "userpassword": "password_hash",
    "password": "password_hash",
}

MAX_FILE_BYTES = 64 * 1024 * 1024


class CsvFileError(ValidationFailed):
    """The file as a whole cannot be read: not UTF-8, no header, a required column missing."""


@dataclass
class Rejection:
    line: int
    reason: str


@dataclass
class CsvTable:
    """The rows of a file: (line number, {column: value}), plus rows refused while reading."""

    columns: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    source: str = ""


def normalize_header(name: str, known: tuple[str, ...] = ()) -> str:
    """ "E-mail" -> "email", "Full name" -> "full_name"; a known column keeps its own name."""
    key = "_".join(name.strip().lower().replace("-", "_").split())
    if key in known:
        return key
    return HEADER_ALIASES.get(key, key)


def decode(data: bytes) -> str:
    """UTF-8 text, a leading BOM removed; a clear error naming the line when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFileError(
            f"the file is not UTF-8 text (line {line}); save it as CSV UTF-8"
        ) from None


def _dialect(first_line: str) -> str:
    """Comma, unless the header uses only semicolons or tabs (spreadsheets set to vi-VN do)."""
    if "," in first_line:
        return ","
    for delimiter in (";", "\t"):
        if delimiter in first_line:
            return delimiter
    return ","


def parse_csv(
    text: str, *, known: tuple[str, ...], required: tuple[tuple[str, ...], ...], source: str = ""
) -> CsvTable:
    """Split the text into rows keyed by the known columns.

    `required` lists groups of columns of which at least one must be in the header. A row with
    a different number of fields than the header is rejected, with its line number; it does
    not stop the others.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_dialect(first_line), strict=True)
    header = _read_header(reader)
    columns = [normalize_header(h, known) for h in header]
    _check_columns(header, columns, known, required)
    table = CsvTable(
        columns=[c for c in columns if c in known],
        ignored_columns=[h for h, c in zip(header, columns, strict=True) if c not in known and c],
        source=source,
    )
    _read_rows(reader, columns, known, table)
    return table


def _read_header(reader: Iterator[list[str]]) -> list[str]:
    try:
        return next(reader)
    except StopIteration:
        raise CsvFileError("the file is empty: expected a header line") from None
    except csv.Error as exc:
        raise CsvFileError(f"line 1: unreadable header ({exc})") from None


def _check_columns(
    header: list[str],
    columns: list[str],
    known: tuple[str, ...],
    required: tuple[tuple[str, ...], ...],
) -> None:
    """No column twice, and one of each group of required columns."""
    duplicates = sorted({c for c in columns if c and columns.count(c) > 1})
    if duplicates:
        raise CsvFileError(f"bad CSV header: column {', '.join(duplicates)} appears twice")
    missing = [" or ".join(group) for group in required if not any(c in columns for c in group)]
    if missing:
        raise CsvFileError(
            f"bad CSV header: missing column {', '.join(missing)} "
            f"(the header is {','.join(header)!r}; expected columns: {', '.join(known)})"
        )


def _read_rows(
    reader: _csv.Reader, columns: list[str], known: tuple[str, ...], table: CsvTable
) -> None:
    """The rows after the header into `table`: blank lines skipped, bad ones rejected."""
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # A broken quote swallows the rest of the file: nothing after it can be trusted.
            table.rejected.append(
                Rejection(start, f"unreadable CSV ({exc}); the rest of the file was skipped")
            )
            return
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(columns):
            what = "missing column" if len(fields) < len(columns) else "too many fields"
            table.rejected.append(
                Rejection(start, f"{what}: {len(fields)} fields, the header has {len(columns)}")
            )
            continue
        table.rows.append(
            (start, {c: v for c, v in zip(columns, fields, strict=True) if c in known})
        )


def read_csv(
    path: str | Path, *, known: tuple[str, ...], required: tuple[tuple[str, ...], ...]
) -> CsvTable:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CsvFileError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise CsvFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_csv(decode(data), known=known, required=required, source=str(path))
