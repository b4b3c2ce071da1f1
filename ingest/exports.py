"""Excel-ready exports, as pure functions over rows: CSV for Excel (UTF-8 with BOM, Chinese
headers, formula payloads neutralised) and .xlsx (Chinese headers, numbers as numbers,
dates as dates) written straight to a byte stream.

Both writers take an iterable of row batches and a binary `out` with `.write(bytes)` and
hold one batch at a time: the .xlsx is a streamed zip (no seeking, no temporary file) whose
worksheet uses inline strings, so memory does not grow with the number of rows.
The Datasette side (permissions, the SQL, the response) is plugins/exports.py.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from urllib.parse import quote
from xml.sax.saxutils import escape as _xml_escape

from . import app

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
EXCEL_MAX_ROWS = 1_048_576  # per worksheet, header included
EXCEL_MAX_CHARS = 32_767  # per cell
# A sheet's XML stays under 2 GiB, zipfile's limit without Zip64 (which some spreadsheet
# apps read badly): past SHEET_MAX_BYTES, checked every _STEP_ROWS rows, a new sheet begins.
SHEET_MAX_BYTES = 1 << 30
_STEP_ROWS = 500
EXCEL_MAX_DIGITS = 15  # integers beyond this lose digits in Excel: written as text
_CACHE_SIZE = 4096  # distinct short texts per workbook whose cell XML is remembered

# ------------------------------------------------------------------ what Excel would misread

# OWASP CSV injection: a cell starting with one of these is a formula to Excel/WPS/LibreOffice
# (tab and CR because some readers strip them first). Full-width forms are included because
# Chinese input methods produce them and some spreadsheet apps accept them as formula signs.
FORMULA_START = frozenset("=+-@\t\r＝＋－＠")


def misread_by_excel(text: str) -> bool:
    """True when Excel, given `text` as typed or CSV input, would not keep it as that text:
    a formula payload, or a digit string it would turn into a number and corrupt (18-digit
    ID numbers lose their last digits, household numbers their leading zeros)."""
    if not text:
        return False
    if text[0] in FORMULA_START:
        return True
    return text.isdigit() and text.isascii() and (
        len(text) > 11 or (text[0] == "0" and len(text) > 1))


def blob_text(value: bytes) -> str:
    return f"（二进制数据，{len(value)} 字节）"


# ------------------------------------------------------------------ labels, titles, kinds

def _metadata() -> dict:
    return app.load_yaml("metadata.yml")


def _tables(database: str) -> dict:
    return ((_metadata().get("databases") or {}).get(database) or {}).get("tables") or {}


_BLANK_NOTE = re.compile(r"（空\s*=[^）]*）$")


def column_labels(database: str, columns: Sequence[str], *, table: str | None = None,
                  query: str | None = None) -> list[str]:
    """The Chinese header for each column, from metadata.yml.

    A table uses its own column labels. A stored query uses, in order: labels under
    `databases.<db>.queries.<query>.columns` if metadata ever has them, then those of the
    public table `<query>_data` that publishes the same summary (with its "（空 = 全部…）"
    note dropped: in a query's result a row is never "all"), then the column name."""
    if table is not None:
        known = (_tables(database).get(table) or {}).get("columns") or {}
    else:
        own = ((((_metadata().get("databases") or {}).get(database) or {}).get("queries") or {})
               .get(query) or {}).get("columns") or {}
        public = (_tables("public").get(f"{query}_data") or {}).get("columns") or {}
        known = {**{k: _BLANK_NOTE.sub("", v) for k, v in public.items()}, **own}
    known = {"rowid": "行号", **known}
    return [str(known.get(c, c)) for c in columns]


def table_title(database: str, table: str) -> str:
    return (_tables(database).get(table) or {}).get("title") or table


def column_kind(column: str, label: str = "") -> str:
    """How cells of a column are typed: "date" (ISO YYYY-MM-DD text becomes a real date),
    "datetime" (ISO date and time), "yuan" (a number shown with two decimals) or "auto"
    (numbers stay numbers, text stays text). By naming convention: *_on and *_date are
    dates (paid_on, visited_on, held_on, died_on, birth_date, election_date), at and *_at
    times (audit_log.at, imports.loaded_at); months (YYYY-MM) stay text."""
    name = column.lower()
    if name.endswith(("_on", "_date")) or name == "date" or label.endswith("日期"):
        return "date"
    if name == "at" or name.endswith("_at"):
        return "datetime"
    if name.endswith("_yuan"):
        return "yuan"
    return "auto"


_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
# Only UTC or zone-less times: a time in another zone is left as text rather than shifted.
_DATETIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})"
                       r"(?::([0-9]{2})(\.[0-9]+)?)?(Z|[+-]00:?00)?")
_EPOCH = dt.date(1899, 12, 30)
_LEAP_BUG_END = dt.date(1900, 3, 1)


def excel_serial(day: dt.date) -> int | None:
    """Excel's 1900 date system serial of `day` (None before 1900, which Excel cannot hold).
    Excel counts a non-existent 1900-02-29, so days before March 1900 are one less."""
    if day >= _LEAP_BUG_END:
        return (day - _EPOCH).days
    if day.year < 1900:
        return None
    return (day - _EPOCH).days - 1


def date_serial(text: str) -> int | None:
    m = _DATE.fullmatch(text)
    if not m:
        return None
    try:
        return excel_serial(dt.date(int(m[1]), int(m[2]), int(m[3])))
    except ValueError:
        return None


def datetime_serial(text: str) -> float | None:
    m = _DATETIME.fullmatch(text) if len(text) > 10 else None
    if not m:
        return date_serial(text)
    day = date_serial(text[:10])
    h, mi, s = int(m[4]), int(m[5]), int(m[6] or 0)
    if day is None or h > 23 or mi > 59 or s > 59:
        return None
    return day + (h * 3600 + mi * 60 + s + float(m[7] or 0)) / 86400


# ------------------------------------------------------------------ file names

def _ascii_stem(text: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return stem or "export"


def file_stem(title: str, extras: Iterable[str] = (), today: dt.date | None = None) -> str:
    """`救助发放_2012_20240501`: title, any non-empty parameter values, the export date."""
    parts = [title, *[str(e) for e in extras if e not in (None, "")],
             (today or dt.date.today()).strftime("%Y%m%d")]
    stem = "_".join(parts)
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", stem)[:120]


def content_disposition(stem: str, fallback: str, extension: str) -> str:
    """RFC 6266: an ASCII `filename` for old clients, the Chinese name in `filename*`."""
    return (f'attachment; filename="{_ascii_stem(fallback)}.{extension}"; '
            f"filename*=UTF-8''{quote(f'{stem}.{extension}', safe='')}")


# ------------------------------------------------------------------ CSV

# Where a cell of a CSV line could begin (line start, after a comma, after an opening quote)
# followed by something the per-cell rules might change: a formula sign, a digit string
# Excel would corrupt, a blob's b'…' (a cell starting with CR is always quoted). A superset
# of those cells - it never misses one, and may find a few more (negative numbers).
_SUSPECT = re.compile('(?:^|,)(?:"\r|"?(?:[=+\\-@\t＝＋－＠]|0[0-9]|[0-9]{12}|b[\'"]))', re.M)


def _excel_cells(rows):
    """Rows with misread_by_excel (inlined: this is the hot loop) text quoted and blobs
    described."""
    return [[("'" + v if v and (v[0] in FORMULA_START or (
                v.isdigit() and v.isascii() and (len(v) > 11 or (v[0] == "0" and len(v) > 1))))
              else v) if type(v) is str else (blob_text(v) if type(v) is bytes else v)
             for v in row] for row in rows]


def write_csv(out, columns: Sequence[str], header: Sequence[str], batches: Iterable[list],
              *, excel: bool = True) -> int:
    """Write rows as CSV to `out` (binary), one encoded chunk per batch; return the row count.

    excel=True: UTF-8 with BOM, CRLF, `header` (Chinese) and text Excel would misread
    quoted with a leading `'`. excel=False: plain UTF-8, column names, values untouched
    (blobs described). Each batch is first written as it is; only a batch in which
    _SUSPECT finds a candidate cell is rewritten cell by cell, so clean data costs one
    regular-expression scan."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if excel:
        buffer.write(BOM)
    writer.writerow(header if excel else columns)
    count = 0
    for rows in batches:
        start = buffer.tell()
        writer.writerows(rows)
        if _SUSPECT.search(buffer.getvalue(), start):
            buffer.seek(start)
            buffer.truncate()
            if excel:
                writer.writerows(_excel_cells(rows))
            else:
                writer.writerows([blob_text(v) if type(v) is bytes else v for v in row]
                                 for row in rows)
        count += len(rows)
        out.write(buffer.getvalue().encode("utf-8"))
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        out.write(buffer.getvalue().encode("utf-8"))
    return count


# ------------------------------------------------------------------ XLSX

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"

# cellXfs: 0 general, 1 date, 2 date-time, 3 text kept as typed (quotePrefix), 4 header, 5 yuan
S_DATE, S_DATETIME, S_TEXT, S_HEADER, S_YUAN = 1, 2, 3, 4, 5
_STYLES = _HEAD + f"""<styleSheet {_NS}>
<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/><numFmt numFmtId="165" formatCode="yyyy\\-mm\\-dd\\ hh:mm:ss"/></numFmts>
<fonts count="2"><font><sz val="11"/><name val="等线"/><family val="2"/><charset val="134"/></font><font><b/><sz val="11"/><name val="等线"/><family val="2"/><charset val="134"/></font></fonts>
<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="6"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/><xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>
<cellStyles count="1"><cellStyle name="常规" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""

# Characters XML 1.0 cannot carry at all; Excel's own _xHHHH_ escape must not be misread.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _text_xml(text: str) -> str:
    if len(text) > EXCEL_MAX_CHARS:
        text = text[:EXCEL_MAX_CHARS - 1] + "…"
    if _ILLEGAL_XML.search(text):
        text = _ILLEGAL_XML.sub("\ufffd", text)
    if "_x" in text:
        text = _EXCEL_ESCAPE.sub(r"_x005F_\1", text)
    text = _xml_escape(text, {"\r": "&#13;"})
    if text[:1].isspace() or text[-1:].isspace():
        return f'<is><t xml:space="preserve">{text}</t></is>'
    return f"<is><t>{text}</t></is>"


def sheet_name(title: str, number: int = 1) -> str:
    name = re.sub(r"[\[\]:*?/\\]", "_", title).strip("'") or "数据"
    suffix = f"（{number}）" if number > 1 else ""
    return name[:31 - len(suffix)] + suffix


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


class _ZipOut:
    """What zipfile needs of a stream it cannot seek: write and flush."""

    def __init__(self, out):
        self._out = out

    def write(self, data):
        if data:
            self._out.write(bytes(data))
        return len(data)

    def flush(self):
        pass


class XlsxWriter:
    """A workbook written front to back: one data sheet (more if the rows outgrow
    Excel's 1,048,576), then a sheet 字段说明 listing each column's label and name plus
    `notes`. Call write() with batches of rows, then close()."""

    def __init__(self, out, columns: Sequence[str], header: Sequence[str], *, title: str,
                 notes: Sequence[tuple[str, str]] = (), compresslevel: int = 1):
        self.columns, self.header, self.title = list(columns), list(header), title
        self.notes = list(notes)
        self.kinds = [column_kind(c, h) for c, h in zip(self.columns, self.header)]
        self.refs = [column_letter(i) for i in range(len(self.columns))]
        self._cells = [(f'<c r="{ref}', {}, kind, f' s="{S_YUAN}"' if kind == "yuan" else "")
                       for ref, kind in zip(self.refs, self.kinds)]
        self._cache_room = _CACHE_SIZE
        self.zip = zipfile.ZipFile(_ZipOut(out), "w", compression=zipfile.ZIP_DEFLATED,
                                   compresslevel=compresslevel)
        self.sheets: list[tuple[str, int]] = []  # (name, data rows)
        self.entry = None
        self.rows_in_sheet = 0
        self.rows = 0
        self.widths: list[int] | None = None

    # -- sheets
    def _open_sheet(self):
        number = len(self.sheets) + 1
        self.sheets.append((sheet_name(self.title, number), 0))
        # No Zip64: sheets are kept under SHEET_MAX_BYTES instead (see write()).
        self.entry = self.zip.open(f"xl/worksheets/sheet{number}.xml", "w")
        self.sheet_bytes = 0
        cols = "".join(f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>'
                       for i, w in enumerate(self.widths or []))
        head = "".join(f'<c r="{ref}1" t="inlineStr" s="{S_HEADER}">{_text_xml(label)}</c>'
                       for ref, label in zip(self.refs, self.header))
        selected = ' tabSelected="1"' if number == 1 else ""
        self.entry.write((
            f'{_HEAD}<worksheet {_NS} {_NS_R}><sheetViews><sheetView workbookViewId="0"{selected}>'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            '<sheetFormatPr defaultRowHeight="15"/>'
            f'{f"<cols>{cols}</cols>" if cols else ""}<sheetData><row r="1">{head}</row>'
        ).encode("utf-8"))
        self.rows_in_sheet = 0

    def _close_sheet(self):
        last = self.rows_in_sheet + 1
        name, _ = self.sheets[-1]
        self.sheets[-1] = (name, self.rows_in_sheet)
        end = f"{self.refs[-1]}{last}" if self.refs else f"A{last}"
        filt = f'<autoFilter ref="A1:{end}"/>' if self.refs else ""
        self.entry.write(f"</sheetData>{filt}</worksheet>".encode())
        self.entry.close()
        self.entry = None

    def _guess_widths(self, rows):
        widths = []
        for i, (label, kind) in enumerate(zip(self.header, self.kinds)):
            if kind == "date":
                widths.append(max(12, _display_width(label) + 2))
                continue
            if kind == "datetime":
                widths.append(max(20, _display_width(label) + 2))
                continue
            sample = [_display_width(str(r[i])) for r in rows[:200] if r[i] is not None]
            widths.append(min(60, max([_display_width(label) + 2, 8,
                                       *[w + 2 for w in sample]])))
        self.widths = widths

    # -- rows
    def write(self, rows: list):
        if self.widths is None:
            self._guess_widths(rows)
        if self.entry is None:
            self._open_sheet()
        start = 0
        while start < len(rows):
            room = min(EXCEL_MAX_ROWS - 1 - self.rows_in_sheet, _STEP_ROWS)
            if room <= 0 or self.sheet_bytes >= SHEET_MAX_BYTES:
                self._close_sheet()
                self._open_sheet()
                continue
            chunk = rows[start:start + room]
            xml = self._rows_xml(chunk, self.rows_in_sheet + 2).encode("utf-8")
            self.entry.write(xml)
            self.sheet_bytes += len(xml)
            self.rows_in_sheet += len(chunk)
            self.rows += len(chunk)
            start += len(chunk)

    def _text_cell(self, text: str, kind: str) -> str | None:
        """The part of a <c> element after its reference, for a text value."""
        if kind == "date" or kind == "datetime":
            serial = date_serial(text) if kind == "date" else datetime_serial(text)
            if serial is not None:
                return f' s="{S_DATE if len(text) == 10 else S_DATETIME}"><v>{serial}</v></c>'
        if not text:
            return None
        style = f' s="{S_TEXT}"' if misread_by_excel(text) else ""
        return f' t="inlineStr"{style}>{_text_xml(text)}</c>'

    def _rows_xml(self, rows, first: int) -> str:
        # Hot loop: values repeat (dates, programs, handlers), so each column keeps a
        # bounded cache of the XML of its text values.
        parts = []
        append = parts.append
        cells = self._cells
        big = 10 ** EXCEL_MAX_DIGITS
        for n, row in enumerate(rows, first):
            at = f'{n}"'
            append(f'<row r="{n}">')
            for (ref, cache, kind, num), v in zip(cells, row):
                t = type(v)
                if t is str:
                    body = cache.get(v)
                    if body is None:
                        body = self._text_cell(v, kind)
                        if body is None:
                            continue
                        if self._cache_room and len(v) <= 64:
                            cache[v] = body
                            self._cache_room -= 1
                    append(f"{ref}{at}{body}")
                elif v is None:
                    continue
                elif t is int:
                    if -big < v < big:
                        append(f"{ref}{at}{num}><v>{v}</v></c>")
                    else:
                        append(f'{ref}{at} t="inlineStr" s="{S_TEXT}">{_text_xml(str(v))}</c>')
                elif t is float:
                    if math.isfinite(v):
                        append(f"{ref}{at}{num}><v>{v!r}</v></c>")
                    else:
                        append(f'{ref}{at} t="inlineStr">{_text_xml(str(v))}</c>')
                else:  # a blob, or anything else a connection might hand back
                    text = blob_text(v) if t is bytes else str(v)
                    append(f'{ref}{at} t="inlineStr">{_text_xml(text)}</c>')
            append("</row>")
        return "".join(parts)

    # -- the rest of the package
    def _info_sheet(self, number: int):
        rows = [("列", "中文名", "字段名")]
        rows += [(ref, label, col) for ref, label, col in zip(self.refs, self.header, self.columns)]
        rows += [("", "", "")] + [(k, v, "") for k, v in self.notes]
        rows += [("行数", str(self.rows), "")]
        xml = []
        for n, row in enumerate(rows, 1):
            style = f' s="{S_HEADER}"' if n == 1 else ""
            xml.append(f'<row r="{n}">' + "".join(
                f'<c r="{column_letter(i)}{n}" t="inlineStr"{style}>{_text_xml(v)}</c>'
                for i, v in enumerate(row) if v) + "</row>")
        self.zip.writestr(
            f"xl/worksheets/sheet{number}.xml",
            f'{_HEAD}<worksheet {_NS} {_NS_R}><cols><col min="1" max="1" width="10" customWidth="1"/>'
            '<col min="2" max="2" width="40" customWidth="1"/><col min="3" max="3" width="24" '
            f'customWidth="1"/></cols><sheetData>{"".join(xml)}</sheetData></worksheet>')

    def close(self) -> int:
        """Finish the workbook; return the number of data rows written."""
        if self.widths is None:
            self._guess_widths([])
        if self.entry is None and not self.sheets:
            self._open_sheet()
        if self.entry is not None:
            self._close_sheet()
        sheets = [name for name, _ in self.sheets] + ["字段说明"]
        info = len(sheets)
        self._info_sheet(info)
        w = self.zip.writestr
        w("[Content_Types].xml", _HEAD + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.worksheet+xml"/>'
                      for i in range(1, info + 1))
            + '<Override PartName="/docProps/core.xml" '
              'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>'))
        w("_rels/.rels", _HEAD + (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
            'relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>'))
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        w("docProps/core.xml", _HEAD + (
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f'<dc:title>{_xml_escape(self.title)}</dc:title><dc:creator>shequ</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified></cp:coreProperties>'))
        filters = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
            f"'{_xml_escape(name.replace(chr(39), chr(39) * 2))}'!$A$1:${self.refs[-1]}${rows + 1}"
            "</definedName>"
            for i, (name, rows) in enumerate(self.sheets)) if self.refs else ""
        w("xl/workbook.xml", _HEAD + (
            f'<workbook {_NS} {_NS_R}><bookViews><workbookView activeTab="0"/></bookViews><sheets>'
            + "".join(f'<sheet name="{_xml_escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
                      for i, name in enumerate(sheets, 1))
            + f'</sheets>{f"<definedNames>{filters}</definedNames>" if filters else ""}</workbook>'))
        w("xl/_rels/workbook.xml.rels", _HEAD + (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                      for i in range(1, info + 1))
            + f'<Relationship Id="rId{info + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'))
        w("xl/styles.xml", _STYLES)
        self.zip.close()
        return self.rows


def write_xlsx(out, columns: Sequence[str], header: Sequence[str], batches: Iterable[list], *,
               title: str, notes: Sequence[tuple[str, str]] = ()) -> int:
    """Write rows as an .xlsx workbook to `out` (binary, need not seek); return the row count."""
    writer = XlsxWriter(out, columns, header, title=title, notes=notes)
    for rows in batches:
        writer.write(rows)
    return writer.close()
