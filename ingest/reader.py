"""Read staff ledgers (.csv in UTF-8 / UTF-8-BOM / GB18030, .xlsx) as sheets of rows.

Streaming: a CSV is decoded incrementally and an .xlsx is opened read-only, so memory
does not grow with the file. Line numbers are the ones staff see in Excel (header = 1
unless title rows sit above it).

Hostile or broken files are refused with UnreadableFile (a Chinese message) before they
can cost much memory or time; the limits (also in the README):

* CSV: at most CSV_FIELD_LIMIT characters in one cell and CSV_LINE_LIMIT in one line;
  a file that is not text (NUL bytes, an image, a zip/.xlsx, an old .xls, UTF-16) is
  refused by name before any row is read.
* .xlsx: the zip directory is checked before openpyxl parses anything - at most
  XLSX_MAX_PARTS members, XLSX_MAX_UNCOMPRESSED bytes uncompressed in all, and no member
  above XLSX_RATIO_FLOOR bytes that is more than XLSX_MAX_RATIO times its compressed size
  (zip bombs). (zipfile enforces the sizes the directory declares while reading, so a
  lying directory ends in a CRC error, not in more data.) Sheet dimensions in the file are
  not trusted (rows are read as wide as the header row, and empty rows are passed over
  without a look at each cell), a row number past Excel's 1,048,576 is refused, so is a
  cell over CSV_FIELD_LIMIT characters (Excel itself stops at 32,767), and any error while
  parsing becomes "damaged file" naming the row.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .templates import NoTemplate, Template, identify

HEADER_SCAN_ROWS = 10  # title rows staff put above the header
HEADER_SCAN_LINES = 100  # blank lines above the header are skipped, but only this far
CSV_FIELD_LIMIT = 1 << 20  # characters in one CSV cell (1 MiB); also one .xlsx cell
CSV_LINE_LIMIT = 4 << 20  # characters in one physical CSV line (4 MiB)
SNIFF_BYTES = 8192  # the start of a file, looked at to tell text from binary
XLSX_MAX_UNCOMPRESSED = 256 << 20  # all members of the .xlsx zip, uncompressed (256 MiB)
XLSX_MAX_RATIO = 100  # uncompressed : compressed, per member …
XLSX_RATIO_FLOOR = 1 << 20  # … for members bigger than 1 MiB uncompressed
XLSX_MAX_PARTS = 2000  # members of the zip
EXCEL_MAX_ROWS = 1_048_576

_MB = 1 << 20
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and password-protected .xlsx
_ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_BINARY = "文件中有二进制数据，不是 CSV 文本文件（可能是图片、压缩包或其他格式的文件改了扩展名）"
_XLS = ("这是旧版 Excel（.xls）文件或设置了密码的工作簿，无法读取：请在 Excel 中“另存为”"
        "“Excel 工作簿（.xlsx）”或“CSV UTF-8（逗号分隔）”，去掉密码后再导入")
_ZIP_AS_CSV = "这是 Excel（.xlsx）或其他压缩文件，不是 CSV 文本：如果是 Excel 台账，请把扩展名改为 .xlsx"
_UTF16 = "这是 UTF-16 编码的文本（Excel 的“Unicode 文本”）：请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后再导入"
_FIELD_TOO_LONG = f"有一格内容太长：每格最多 {CSV_FIELD_LIMIT:,} 个字符（1 MB）"
_LINE_TOO_LONG = f"太长：每行最多 {CSV_LINE_LIMIT:,} 个字符（4 MB）"


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


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(SNIFF_BYTES)
    except OSError as e:
        raise UnreadableFile(f"无法读取这个文件（{type(e).__name__}）：没有权限，或不是普通文件") from None


def _find_header(rows: Iterator[tuple[int, list]]):
    """Return (template, header cells, header line); scans the first rows for a header."""
    first_error = None
    for line, cells in rows:
        if line > HEADER_SCAN_LINES:
            break
        if not any(c not in (None, "") for c in cells):
            continue
        try:
            return identify([c if c is None else str(c) for c in cells]), cells, line
        except NoTemplate as e:
            first_error = first_error or e
        if line >= HEADER_SCAN_ROWS:
            break
    else:
        raise first_error or NoTemplate("文件是空的：没有找到表头行")
    raise first_error or NoTemplate(f"文件的前 {HEADER_SCAN_LINES} 行都是空的：没有找到表头行")


# ---------------------------------------------------------------- CSV

class _LineTooLong(Exception):
    pass


class _NulInLine(Exception):
    pass


def _lines(text):
    """Physical lines for csv.reader, none longer than CSV_LINE_LIMIT characters and none
    with a NUL (so a row of millions of empty cells never reaches the csv module)."""
    readline = text.readline
    while line := readline(CSV_LINE_LIMIT + 1):
        if len(line) > CSV_LINE_LIMIT:
            raise _LineTooLong
        if "\x00" in line:
            raise _NulInLine
        yield line


def _sniff_text(path: Path):
    """Refuse, by what it is, a file that is not CSV text."""
    head = _head(path)
    if head.startswith(_OLE2):
        raise UnreadableFile(_XLS)
    if head.startswith(_ZIP):
        raise UnreadableFile(_ZIP_AS_CSV)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFile(_UTF16)
    if b"\x00" in head or head.startswith(b"%PDF-"):
        raise UnreadableFile(_BINARY)


def _csv_sheets(path: Path) -> Iterator[Sheet]:
    _sniff_text(path)
    csv.field_size_limit(CSV_FIELD_LIMIT)
    encoding = detect_encoding(path)
    f = open(path, "rb")
    text = io.TextIOWrapper(f, encoding=encoding, newline="")
    reader = csv.reader(_lines(text))

    def numbered():
        # records, not physical lines: a cell with line breaks is still one Excel row
        line = 0
        try:
            for line, cells in enumerate(reader, start=1):
                yield line, cells
        except csv.Error as e:
            if "field limit" in str(e):
                raise UnreadableFile(f"第 {line + 1} 行{_FIELD_TOO_LONG}，无法读取") from None
            raise UnreadableFile(f"第 {line + 1} 行无法按 CSV 读取（格式已损坏）") from None
        except _LineTooLong:
            raise UnreadableFile(f"第 {line + 1} 行{_LINE_TOO_LONG}，无法读取") from None
        except _NulInLine:
            raise UnreadableFile(f"第 {line + 1} 行含有二进制数据（NUL 字符），不是 CSV 文本") from None
        except UnicodeDecodeError:
            raise UnreadableFile(f"第 {line + 1} 行附近编码损坏，无法识别文字") from None
        finally:
            f.close()

    rows = numbered()
    template, headers, header_line = _find_header(rows)
    size = os.path.getsize(path)
    # the file is closed once the last row is read; it has then been read to the end
    yield Sheet(path, None, template, headers, header_line, rows, file_digest(path),
                size_hint=size, position=lambda: size if f.closed else f.tell())


# ---------------------------------------------------------------- .xlsx

def _damaged(e: Exception) -> UnreadableFile:
    return UnreadableFile(f"无法打开 Excel 文件（{type(e).__name__}），文件可能已损坏")


def check_xlsx(path: Path):
    """Refuse what is not an .xlsx, or would cost too much to open, before openpyxl reads
    a byte of XML: only the zip directory is read here."""
    if _head(path).startswith(_OLE2):
        raise UnreadableFile(_XLS)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except Exception as e:  # noqa: BLE001 - whatever a broken zip raises, it is broken
        raise _damaged(e) from None
    if len(members) > XLSX_MAX_PARTS:
        raise UnreadableFile(f"Excel 文件的结构异常（压缩包中有 {len(members):,} 个部件，"
                             f"上限 {XLSX_MAX_PARTS:,}），拒绝读取")
    total = sum(m.file_size for m in members)
    if total > XLSX_MAX_UNCOMPRESSED:
        raise UnreadableFile(f"Excel 文件解压后太大（{total / _MB:,.0f} MB，上限 "
                             f"{XLSX_MAX_UNCOMPRESSED // _MB} MB）：请把数据分成几个文件，"
                             "或另存为 CSV 后再导入")
    for m in members:
        if m.file_size > XLSX_RATIO_FLOOR and m.file_size > XLSX_MAX_RATIO * max(m.compress_size, 1):
            raise UnreadableFile(f"Excel 文件的压缩比异常（{m.filename} 解压后是压缩时的 "
                                 f"{m.file_size // max(m.compress_size, 1):,} 倍，上限 "
                                 f"{XLSX_MAX_RATIO} 倍），可能是恶意构造的“压缩炸弹”，拒绝读取")


def _xlsx_rows(ws, path: Path, **bounds) -> Iterator[tuple[int, list]]:
    """(line, cells) of a read-only worksheet; parsing errors become UnreadableFile."""
    line = bounds.get("min_row") or 1
    try:
        for line, cells in enumerate(ws.iter_rows(values_only=True, **bounds), start=line):
            if line > EXCEL_MAX_ROWS:
                raise UnreadableFile(f"工作表「{ws.title}」超过 Excel 的最大行数 "
                                     f"{EXCEL_MAX_ROWS:,}，文件已损坏")
            if cells.count(None) + cells.count("") == len(cells):
                continue  # an empty row (the loader skips those too), counted at C speed
            for c in cells:
                if type(c) is str and len(c) > CSV_FIELD_LIMIT:
                    raise UnreadableFile(f"工作表「{ws.title}」第 {line} 行{_FIELD_TOO_LONG}，无法读取")
            yield line, list(cells)
    except UnreadableFile:
        raise
    except Exception as e:  # noqa: BLE001 - openpyxl/XML/zip errors while streaming
        raise UnreadableFile(f"工作表「{ws.title}」第 {line} 行附近内容损坏（{type(e).__name__}），"
                             "无法读取：请在 Excel 中打开并另存后再导入") from None


def _xlsx_sheets(path: Path) -> Iterator[Sheet]:
    import openpyxl

    check_xlsx(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        worksheets = book.worksheets
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds on a broken file
        raise _damaged(e) from None
    digest = file_digest(path)
    first_error = None
    found = 0
    for index, ws in enumerate(worksheets):
        # The dimension a sheet declares is only a hint for the progress bar: a hostile
        # "A1:XFD1048576" would have openpyxl pad every row to 16,384 cells.
        try:
            rows_hint = min(int(ws.max_row or 0), EXCEL_MAX_ROWS)
        except Exception:  # noqa: BLE001
            rows_hint = 0
        ws.reset_dimensions()
        try:
            template, headers, header_line = _find_header(
                _xlsx_rows(ws, path, max_row=HEADER_SCAN_LINES))
        except NoTemplate as e:
            if index == 0:
                first_error = e
            continue
        found += 1
        # Rows are read as wide as the header: a cell with no header is ignored anyway.
        filled = [i for i, h in enumerate(headers) if h not in (None, "")]
        headers = headers[:filled[-1] + 1]
        width = len(headers)
        counter = {"line": header_line}

        def tracked(ws=ws, counter=counter, start=header_line + 1, width=width, hint=rows_hint):
            for line, cells in _xlsx_rows(ws, path, min_row=start, max_col=width):
                counter["line"] = line
                yield line, cells
            counter["line"] = max(counter["line"], hint)
        yield Sheet(path, ws.title, template, headers, header_line, tracked(),
                    hashlib.sha256(f"{digest}:{ws.title}".encode()).hexdigest(),
                    size_hint=rows_hint, position=lambda c=counter: c["line"])
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
