"""Read staff ledgers (.csv in UTF-8 / UTF-8-BOM / GB18030, .xlsx) as sheets of rows.

Streaming: a CSV is decoded incrementally and an .xlsx is opened read-only, so memory
does not grow with the file. Line numbers are the ones staff see in Excel (header = 1
unless title rows sit above it).
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .templates import NoTemplate, Template, identify

HEADER_SCAN_ROWS = 10  # title rows staff put above the header
CSV_FIELD_LIMIT = 1 << 20


class UnreadableFile(Exception):
    """The file cannot be opened as a ledger at all (message in Chinese)."""


@dataclass
class Sheet:
    path: Path
    name: str | None  # sheet name for .xlsx, None for .csv
    template: Template
    headers: list  # raw header cells, in file order
    header_line: int
    rows: Iterator[tuple[int, list]]  # (line number, cells)
    digest: str  # identifies this file's content (and sheet) for "already loaded"
    size_hint: int = 0  # bytes (csv) or rows (xlsx), for the progress bar
    position: callable = field(default=lambda: 0)  # progress so far, same unit


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) if the bytes decode as UTF-8, else GB18030 (⊃ GBK)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        head = f.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        f.seek(0)
        try:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def _find_header(rows: Iterator[tuple[int, list]]):
    """Return (template, header cells, header line); scans the first rows for a header."""
    first_error = None
    for line, cells in rows:
        if not any(c not in (None, "") for c in cells):
            continue
        try:
            return identify([c if c is None else str(c) for c in cells]), cells, line
        except NoTemplate as e:
            first_error = first_error or e
        if line >= HEADER_SCAN_ROWS:
            break
    raise first_error or NoTemplate("文件是空的：没有找到表头行")


def _csv_sheets(path: Path) -> Iterator[Sheet]:
    csv.field_size_limit(CSV_FIELD_LIMIT)
    encoding = detect_encoding(path)
    f = open(path, "rb")
    text = io.TextIOWrapper(f, encoding=encoding, newline="")
    reader = csv.reader(text)

    def numbered():
        try:
            # records, not physical lines: a cell with line breaks is still one Excel row
            for line, cells in enumerate(reader, start=1):
                yield line, cells
        except csv.Error as e:
            raise UnreadableFile(f"第 {reader.line_num} 行无法按 CSV 读取：{e}") from e
        except UnicodeDecodeError as e:
            raise UnreadableFile(f"第 {reader.line_num + 1} 行附近编码损坏，无法识别文字") from e
        finally:
            f.close()

    rows = numbered()
    template, headers, header_line = _find_header(rows)
    size = os.path.getsize(path)
    # the file is closed once the last row is read; it has then been read to the end
    yield Sheet(path, None, template, headers, header_line, rows, file_digest(path),
                size_hint=size, position=lambda: size if f.closed else f.tell())


def _xlsx_sheets(path: Path) -> Iterator[Sheet]:
    import openpyxl
    import zipfile

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as e:
        raise UnreadableFile(f"无法打开 Excel 文件（{type(e).__name__}），文件可能已损坏") from e
    digest = file_digest(path)
    first_error = None
    found = 0
    for index, ws in enumerate(book.worksheets):
        def numbered(ws=ws):
            for line, cells in enumerate(ws.iter_rows(values_only=True), start=1):
                yield line, list(cells)
        rows = numbered()
        try:
            template, headers, header_line = _find_header(rows)
        except NoTemplate as e:
            if index == 0:
                first_error = e
            continue
        found += 1
        counter = {"line": header_line}

        def tracked(rows=rows, counter=counter):
            for line, cells in rows:
                counter["line"] = line
                yield line, cells
        yield Sheet(path, ws.title, template, headers, header_line, tracked(),
                    hashlib.sha256(f"{digest}:{ws.title}".encode()).hexdigest(),
                    size_hint=ws.max_row or 0, position=lambda c=counter: c["line"])
    if not found:
        raise first_error or NoTemplate("工作簿中没有符合模板的工作表")


def read_sheets(path) -> Iterator[Sheet]:
    path = Path(path)
    if not path.exists():
        raise UnreadableFile(f"找不到文件 {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_sheets(path)
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_sheets(path)
    raise UnreadableFile(f"不支持的文件类型「{path.suffix}」：请上传 .csv 或 .xlsx")
