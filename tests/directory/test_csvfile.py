"""Reading import files: encodings, headers, line numbers of bad rows."""

from __future__ import annotations

import pytest

from idp.directory.csvfile import CsvFileError, decode, parse_csv, read_csv

KNOWN = ("email", "full_name", "unit_code", "aliases")
REQUIRED = (("email",), ("full_name",))


def parse(text: str):
    return parse_csv(text, known=KNOWN, required=REQUIRED)


def test_rows_carry_their_line_numbers_and_blank_lines_are_skipped():
    table = parse("email,full_name\na@x.vn,Lê An\n\nb@x.vn,Lê Bình\n")
    assert table.rows == [
        (2, {"email": "a@x.vn", "full_name": "Lê An"}),
        (4, {"email": "b@x.vn", "full_name": "Lê Bình"}),
    ]


def test_a_quoted_field_over_two_lines_keeps_later_line_numbers_right():
    table = parse('email,full_name\n"a@x.vn","Lê\nAn"\nb@x.vn,oops,extra\nc@x.vn,Lê Cúc\n')
    assert [line for line, _ in table.rows] == [2, 5]
    assert [(r.line, r.reason) for r in table.rejected] == [
        (4, "too many fields: 3 fields, the header has 2")
    ]


def test_a_short_row_is_a_missing_column():
    table = parse("email,full_name,unit_code\na@x.vn,Lê An\n")
    assert table.rows == []
    assert table.rejected[0].line == 2
    assert table.rejected[0].reason.startswith("missing column")


def test_header_is_case_and_space_insensitive_with_a_few_other_spellings():
    table = parse("E-mail ; Full Name ; Unit ; Nickname\na@x.vn;Lê An;STC;Bé\n")
    assert table.columns == ["email", "full_name", "unit_code"]
    assert table.rows[0][1]["unit_code"] == "STC"
    assert table.ignored_columns == [" Nickname"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("full_name,unit_code\nLê An,STC\n", "bad CSV header: missing column email"),
        ("email,aliases\na@x.vn,\n", "missing column full_name"),
        ("email,full_name,email\n", "column email appears twice"),
    ],
)
def test_a_bad_header_refuses_the_whole_file(text, message):
    with pytest.raises(CsvFileError, match=message):
        parse(text)


def test_bom_is_removed_and_other_encodings_are_refused_with_the_line():
    assert decode("\ufeffemail".encode()) == "email"
    with pytest.raises(CsvFileError, match=r"not UTF-8 text \(line 3\)"):
        decode("email,full_name\na@x.vn,An\nb@x.vn,Lê Bình\n".encode("latin-1"))  # Windows-1252 era


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(CsvFileError, match="cannot read .*nothing.csv: No such file"):
        read_csv(tmp_path / "nothing.csv", known=KNOWN, required=REQUIRED)


def test_broken_quote_rejects_the_rest_but_keeps_earlier_rows():
    table = parse('email,full_name\na@x.vn,Lê An\nb@x.vn,"Lê\n')
    assert [line for line, _ in table.rows] == [2]
    assert table.rejected and table.rejected[0].line == 3
