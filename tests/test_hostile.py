"""Hostile and broken input, end to end.

Malformed files - a truncated .xlsx, zip bombs, a CSV with a 10 MB cell, binary junk,
a 200 MB upload - are refused with a Chinese message, by `shequ ingest` (exit 1, no
traceback) and by 上传台账 (the refusal on the page), and nothing is written.

Hostile text - markup, SQL and spreadsheet formulas - in names and notes, loaded through
`shequ ingest` and through the forms, is stored exactly as typed, shown escaped on every
page that shows it, and neutralised in the Excel exports."""
from __future__ import annotations

import csv
import html
import io
import os
import random
import re
import sqlite3
import struct
import time
import tracemalloc
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from ingest import reader
from ingest.app import make_datasette
from ingest.cli import main
from ingest.validators import make_id_number

from .conftest import SAMPLE_DIR, login

URL = "/-/shequ/upload"
REG_HEADER = ["社区", "户号", "姓名", "身份证号", "联系电话"]
TABLES = ("persons", "households", "disbursements", "visits", "imports", "audit_log")
MB = 1 << 20


# ---------------------------------------------------------------- helpers

def counts(data_dir):
    conn = sqlite3.connect(data_dir / "community.db")
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def ingest(data_dir, *files, skip_bad=False):
    args = ["ingest", "--db-dir", str(data_dir), *(["--skip-bad"] if skip_bad else []),
            *map(str, files)]
    return CliRunner().invoke(main, args)


def sample_people(n=3):
    with open(SAMPLE_DIR / "02_registry.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(r["社区"], r["户号"], r["姓名"], r["身份证号"]) for r in rows[:n]]


def registry_xlsx(rows=200) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "名册"
    sheet.append(REG_HEADER)
    for i in range(rows):
        sheet.append(["跃华社区", f"T{i:04d}", f"测试{i}",
                      make_id_number("500199", "19600101", f"{i % 1000:03d}"), "13800000000"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def visible(page: str) -> str:
    return html.unescape(page)


# ---------------------------------------------------------------- the malformed files

def _bomb(path, payload_bytes, *, lie=False):
    """A workbook whose sheet XML is `payload_bytes` of the same row over and over: a few
    hundred KB on disk. lie=True then rewrites the zip directory to claim the sheet is
    1,000 bytes (so only zipfile's own bookkeeping stands between openpyxl and the flood)."""
    real = zipfile.ZipFile(io.BytesIO(registry_xlsx(2)))
    row = b'<row><c t="inlineStr"><is><t>' + b"\xe5\x93\x88" * 60 + b"</t></is></c></row>"
    block = row * (MB // len(row))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for name in real.namelist():
            if name != "xl/worksheets/sheet1.xml":
                out.writestr(name, real.read(name))
        with out.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        b"<sheetData>" + real.read("xl/worksheets/sheet1.xml").split(b"<sheetData>")[1]
                        .split(b"</sheetData>")[0])
            written = 0
            while written < payload_bytes:
                sheet.write(block)
                written += len(block)
            sheet.write(b"</sheetData></worksheet>")
    if lie:
        data = bytearray(path.read_bytes())
        name = b"xl/worksheets/sheet1.xml"
        at = data.find(b"PK\x01\x02")
        while at != -1:
            name_len = struct.unpack_from("<H", data, at + 28)[0]
            if bytes(data[at + 46:at + 46 + name_len]) == name:
                struct.pack_into("<I", data, at + 24, 1000)  # uncompressed size
                break
            at = data.find(b"PK\x01\x02", at + 4)
        assert at != -1
        path.write_bytes(bytes(data))
    return path


def _png():
    return (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
            + random.Random(1).randbytes(3000))


def _csv_with(cell: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REG_HEADER)
    writer.writerow(["跃华社区", "YH9", "甲", make_id_number("500199", "19600101", "011"), cell])
    writer.writerow(["跃华社区", "YH9", "乙", make_id_number("500199", "19600101", "022"), ""])
    return out.getvalue().encode()


LINE_TOO_LONG = "第 2 行太长：每行最多 4,194,304 个字符（4 MB），无法读取"
CELL_TOO_LONG = "第 2 行有一格内容太长：每格最多 1,048,576 个字符（1 MB），无法读取"
DAMAGED_ZIP = "无法打开 Excel 文件（BadZipFile），文件可能已损坏"
BINARY = "文件中有二进制数据，不是 CSV 文本文件（可能是图片、压缩包或其他格式的文件改了扩展名）"


def malformed(kind, tmp_path):
    """(file, the refusal it must get). Built on demand, each in a few hundred ms."""
    rng = random.Random(kind)
    if kind == "truncated.xlsx":
        data = registry_xlsx()
        return _write(tmp_path / "名册.xlsx", data[:len(data) // 2]), DAMAGED_ZIP
    if kind == "bomb.xlsx":  # 300 MiB of sheet XML in ~1 MB
        return (_bomb(tmp_path / "名册.xlsx", 300 * MB),
                ["Excel 文件解压后太大（30", " MB，上限 256 MB）：请把数据分成几个文件，或另存为 CSV 后再导入"])
    if kind == "ratio-bomb.xlsx":  # under the size limit, but 1000 : 1
        return (_bomb(tmp_path / "名册.xlsx", 60 * MB),
                "Excel 文件的压缩比异常（xl/worksheets/sheet1.xml 解压后是压缩时的 ")
    if kind == "lying-bomb.xlsx":  # the directory claims 1,000 bytes
        return _bomb(tmp_path / "名册.xlsx", 60 * MB, lie=True), DAMAGED_ZIP  # (a CRC error)
    if kind == "10mb-cell.csv":
        return _write(tmp_path / "名册.csv", _csv_with("x" * (10 * MB))), LINE_TOO_LONG
    if kind == "2mb-cell.csv":
        return _write(tmp_path / "名册.csv", _csv_with("电" * (2 * MB))), CELL_TOO_LONG
    if kind == "2mb-cell-with-newlines.csv":  # one cell over many physical lines
        return _write(tmp_path / "名册.csv", _csv_with("电话\n" * MB)), CELL_TOO_LONG
    if kind == "5m-empty-cells.csv":
        return _write(tmp_path / "名册.csv", _csv_with("," * (5 * MB))), LINE_TOO_LONG
    if kind == "junk.csv":
        return _write(tmp_path / "名册.csv", rng.randbytes(20_000)), BINARY
    if kind == "junk.xlsx":
        return _write(tmp_path / "名册.xlsx", rng.randbytes(20_000)), DAMAGED_ZIP
    if kind == "png-renamed.csv":
        return _write(tmp_path / "名册.csv", _png()), BINARY
    if kind == "png-renamed.xlsx":
        return _write(tmp_path / "名册.xlsx", _png()), DAMAGED_ZIP
    if kind == "xlsx-renamed.csv":
        return (_write(tmp_path / "名册.csv", registry_xlsx(5)),
                "这是 Excel（.xlsx）或其他压缩文件，不是 CSV 文本：如果是 Excel 台账，请把扩展名改为 .xlsx")
    if kind == "old-xls.xlsx":
        return (_write(tmp_path / "名册.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + rng.randbytes(4000)),
                "这是旧版 Excel（.xls）文件或设置了密码的工作簿，无法读取")
    if kind == "utf16.csv":
        return (_write(tmp_path / "名册.csv", ",".join(REG_HEADER).encode("utf-16")),
                "这是 UTF-16 编码的文本")
    if kind == "nul-in-row-102.csv":  # past the first 8 KiB, where the file is sniffed
        lines = [",".join(REG_HEADER)] + [f"跃华社区,YH{i},测试{i},{'1' * 18},{'0' * 80}"
                                          for i in range(100)] + ["跃华社区,YH,\x00,1,2"]
        return (_write(tmp_path / "名册.csv", "\r\n".join(lines).encode()),
                "第 102 行含有二进制数据（NUL 字符），不是 CSV 文本")
    raise AssertionError(kind)


def fragments(message):
    return [message] if isinstance(message, str) else message


def _write(path, data):
    path.write_bytes(data)
    return path


KINDS = ["truncated.xlsx", "bomb.xlsx", "ratio-bomb.xlsx", "lying-bomb.xlsx", "10mb-cell.csv",
         "2mb-cell.csv", "2mb-cell-with-newlines.csv", "5m-empty-cells.csv", "junk.csv",
         "junk.xlsx", "png-renamed.csv", "png-renamed.xlsx", "xlsx-renamed.csv", "old-xls.xlsx",
         "utf16.csv", "nul-in-row-102.csv"]


@pytest.mark.parametrize("kind", KINDS)
def test_shequ_ingest_refuses_a_malformed_file(kind, data_dir, tmp_path):
    path, message = malformed(kind, tmp_path)
    assert path.stat().st_size < 12 * MB
    before = counts(data_dir)
    tracemalloc.start()
    started = time.perf_counter()
    result = ingest(data_dir, path)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{path.name}：拒绝导入。") or line.startswith(f"居民名册 {path.name}"), line
    assert "拒绝导入。" in line and all(m in line for m in fragments(message)), line
    assert counts(data_dir) == before
    assert not list(tmp_path.glob("*.rejects.csv"))
    assert elapsed < 20, elapsed
    assert peak < 120 * MB, f"{peak / MB:.0f} MB"  # (a 10 MB line is read once, as text)


@pytest.mark.parametrize("kind", ["truncated.xlsx", "bomb.xlsx", "ratio-bomb.xlsx",
                                  "lying-bomb.xlsx", "10mb-cell.csv", "2mb-cell.csv",
                                  "junk.csv", "junk.xlsx", "png-renamed.csv", "old-xls.xlsx"])
async def test_the_upload_page_refuses_a_malformed_file(kind, data_dir, tmp_path):
    path, message = malformed(kind, tmp_path)
    ds = make_datasette(data_dir)
    staff = await login(ds, "staff1")
    before = counts(data_dir)
    response = await ds.client.post(URL, files=[("files", (path.name, path.read_bytes(),
                                                           "application/octet-stream"))],
                                    cookies=staff)
    # The preview page names the refusal (plugins/upload.py renders it with 200: a
    # preview, with no 确认导入 button); never a 500, never a traceback.
    assert response.status_code in (200, 400, 422), response.status_code
    page = visible(response.text)
    assert f"{path.name}：拒绝导入。" in page and all(m in page for m in fragments(message))
    assert "有错误的文件不能导入：请修正后重新上传" in page
    assert 'value="确认导入"' not in response.text
    assert "Traceback" not in page
    assert counts(data_dir) == before


async def test_a_200_mb_upload_is_cut_off_at_the_50_mb_limit(data_dir):
    """Streamed, never held: Datasette's multipart parser spools a file part to a temporary
    file past 1 MB and gives up as soon as the part passes 50 MB, so the server reads
    about 50 MB of the 200, keeps none of it, and memory stays flat."""
    ds = make_datasette(data_dir)
    staff = await login(ds, "staff1")
    boundary = "shequ-hostile-boundary"
    sent = 0

    async def body():
        nonlocal sent
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
               f"filename=\"大.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
        chunk = b"a" * MB
        for _ in range(200):
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    before = counts(data_dir)
    tracemalloc.start()
    response = await ds.client.post(
        URL, content=body(), cookies=staff,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert response.status_code == 400
    assert "文件太大：每个文件不能超过 50 MB" in response.text
    assert sent <= 52 * MB, f"the server read {sent / MB:.0f} MB"
    assert peak < 16 * MB, f"{peak / MB:.0f} MB"
    uploads = data_dir / "uploads"
    kept = sum(f.stat().st_size for f in uploads.rglob("*") if f.is_file()) if uploads.exists() else 0
    assert kept == 0
    # no temporary file of it stays open either
    held = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            st = os.fstat(int(fd))
        except OSError:
            continue
        if st.st_nlink == 0:
            held += st.st_size
    assert held < 10 * MB, f"{held / MB:.0f} MB in deleted temporary files still open"
    assert counts(data_dir) == before


def test_the_limits_are_the_ones_in_the_readme():
    assert reader.CSV_FIELD_LIMIT == 1 << 20 and reader.CSV_LINE_LIMIT == 4 << 20
    assert reader.XLSX_MAX_UNCOMPRESSED == 256 << 20
    assert (reader.XLSX_MAX_RATIO, reader.XLSX_RATIO_FLOOR) == (100, 1 << 20)
    assert reader.XLSX_MAX_PARTS == 2000 and reader.EXCEL_MAX_ROWS == 1_048_576


def test_an_xlsx_row_number_past_excel_is_refused_quickly(tmp_path, data_dir):
    """`<row r="999999999">` would otherwise make openpyxl pad a billion empty rows."""
    real = zipfile.ZipFile(io.BytesIO(registry_xlsx(3)))
    path = tmp_path / "名册.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in real.namelist():
            data = real.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b'<row r="999999999"><c r="A999999999" '
                                    b't="inlineStr"><is><t>x</t></is></c></row></sheetData>')
                data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', data)
            out.writestr(name, data)
    started = time.perf_counter()
    result = ingest(data_dir, path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "工作表「名册」超过 Excel 的最大行数 1,048,576，文件已损坏" in result.output
    assert time.perf_counter() - started < 20


# ---------------------------------------------------------------- hostile text

PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
            "'; drop table persons; --", '=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0",
            "@SUM(1+1)", "-2+3"]
FORMULAS = [p for p in PAYLOADS if p[0] in "=+-@"]
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


def assert_escaped(page: str, where: str, *, shows=True):
    """No payload as live markup; and (shows=True) the script payload is on the page,
    escaped - so the check is not passing on a page that simply lacks it."""
    assert "<script>alert(1)</script>" not in page, where
    assert "<img src=x onerror" not in page.lower(), where
    assert "<img src=x" not in page.lower(), where
    if shows:
        assert ESCAPED_SCRIPT in page, f"{where}: the payload is not shown at all"


def hostile_people():
    return [("跃华社区", f"XSS{i}", payload, make_id_number("500199", f"19{50 + i}0101", f"{i}{i}1"))
            for i, payload in enumerate(PAYLOADS)]


@pytest.fixture
async def hostile(data_dir, tmp_path):
    """Payloads as names, addresses, notes, goods and handlers through `shequ ingest`, and
    as visitors, purposes, notes and a new resident through the forms."""
    people = hostile_people()
    registry = tmp_path / "名册.csv"
    with open(registry, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["社区", "户号", "姓名", "身份证号", "住址", "备注"])
        for community, household, name, number in people:
            w.writerow([community, household, name, number, name, name])
    payments = tmp_path / "发放.csv"
    with open(payments, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["发放日期", "社区", "户号", "姓名", "身份证号", "项目", "方式", "物品", "金额(元)",
                    "经办人", "备注"])
        for i, (community, household, name, number) in enumerate(people):
            # one 临时救助 per day: the year-end report names each such recipient
            w.writerow([f"2013-07-{i + 1:02d}", community, household, name, number, "临时救助",
                        "实物", name, f"{100 + i}", name, name])
    result = ingest(data_dir, registry, payments)
    assert result.exit_code == 0, result.output
    ds = make_datasette(data_dir)
    staff = await login(ds, "staff1")
    conn = sqlite3.connect(data_dir / "community.db")
    ids = {name: conn.execute("SELECT id FROM persons WHERE id_number = ?", [number]).fetchone()[0]
           for _, _, name, number in people}
    for payload, person_id in ids.items():
        response = await ds.client.post("/-/shequ/form/visit", cookies=staff, data={
            "person_id": str(person_id), "走访日期": "2013-08-01", "走访人": payload,
            "事由": payload, "备注": payload})
        assert response.status_code == 302, response.text
    response = await ds.client.post("/-/shequ/form/person", cookies=staff, data={
        "社区": "跃华社区", "户号": "XSSFORM", "姓名": PAYLOADS[0],
        "身份证号": make_id_number("500199", "19700101", "991"), "住址": PAYLOADS[1],
        "备注": PAYLOADS[3]})
    assert response.status_code == 302, response.text
    form_person = int(response.headers["location"].rsplit("/", 1)[1])
    return {"ds": ds, "staff": staff, "conn": conn, "ids": ids, "form_person": form_person,
            "data_dir": data_dir, "tmp": tmp_path}


async def test_hostile_text_is_stored_exactly_and_the_tables_survive(hostile):
    conn = hostile["conn"]
    for payload, person_id in hostile["ids"].items():
        assert conn.execute("SELECT name, address, note FROM persons WHERE id = ?",
                            [person_id]).fetchone() == (payload,) * 3
        assert conn.execute("SELECT goods, handler, note FROM disbursements WHERE person_id = ?",
                            [person_id]).fetchone() == (payload,) * 3
        assert conn.execute("SELECT visitors, purpose, note FROM visits WHERE person_id = ?",
                            [person_id]).fetchone() == (payload,) * 3
    assert conn.execute("SELECT name, address, note FROM persons WHERE id = ?",
                        [hostile["form_person"]]).fetchone() == (PAYLOADS[0], PAYLOADS[1], PAYLOADS[3])
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"persons", "disbursements", "visits", "households", "communities"} <= tables
    assert conn.execute("SELECT count(*) FROM persons").fetchone()[0] > 100  # the sample is all there


async def test_every_page_shows_hostile_text_escaped(hostile):
    ds, staff, ids = hostile["ds"], hostile["staff"], hostile["ids"]
    script_person = ids[PAYLOADS[0]]
    pages = {
        "persons table": "/community/persons?_sort_desc=id",
        "persons table, filtered by the payload": "/community/persons?name__contains=%3Cscript%3E",
        "persons table, searched for the payload (not echoed)": "/community/persons?_search=%3Cscript%3Ealert",
        "payments table": "/community/disbursements?_sort_desc=id",
        "visits table": "/community/visits?_sort_desc=id",
        "person row page with its ledger": f"/community/persons/{script_person}",
        "form-made person row page": f"/community/persons/{hostile['form_person']}",
        "search results": "/-/shequ/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "search results (one group)": "/-/shequ/search?q=script&table=persons",
        "audit history": f"/-/shequ/history/persons/{script_person}",
        "year-end report": "/-/shequ/report?community=跃华社区&year=2013",
    }
    conn = hostile["conn"]
    payment = conn.execute("SELECT id FROM disbursements WHERE person_id = ?", [script_person]).fetchone()[0]
    visit = conn.execute("SELECT id FROM visits WHERE person_id = ?", [script_person]).fetchone()[0]
    pages["payment row page"] = f"/community/disbursements/{payment}"
    pages["visit row page"] = f"/community/visits/{visit}"
    for where, path in pages.items():
        response = await ds.client.get(path, cookies=staff)
        assert response.status_code == 200, (where, response.status_code)
        assert_escaped(response.text, where, shows="not echoed" not in where)
    # the report really names the recipients, so the check above means something
    report = visible((await ds.client.get(pages["year-end report"], cookies=staff)).text)
    assert all(p in report for p in PAYLOADS)
    # the person's row page lists the payments and visits the payloads came with
    ledger = visible((await ds.client.get(pages["person row page with its ledger"], cookies=staff)).text)
    assert "发放记录（1）" in ledger and "走访记录（1）" in ledger


async def test_the_form_re_rendered_with_errors_escapes_what_was_typed(hostile):
    ds, staff = hostile["ds"], hostile["staff"]
    person_id = hostile["ids"][PAYLOADS[1]]
    response = await ds.client.post("/-/shequ/form/visit", cookies=staff, data={
        "person_id": str(person_id), "走访日期": PAYLOADS[0], "走访人": PAYLOADS[1],
        "事由": PAYLOADS[0], "备注": PAYLOADS[1]})
    assert response.status_code == 400
    assert_escaped(response.text, "visit form with errors")
    assert "走访日期：无法识别的日期「<script>alert(1)</script>」" in visible(response.text)
    response = await ds.client.post("/-/shequ/form/person", cookies=staff, data={
        "社区": PAYLOADS[0], "户号": PAYLOADS[1], "姓名": PAYLOADS[0], "身份证号": PAYLOADS[1],
        "备注": PAYLOADS[0]})
    assert response.status_code == 400
    assert_escaped(response.text, "person form with errors")
    # editing a resident whose values are payloads: every input and the hidden JSON escaped
    edit = await ds.client.get(f"/-/shequ/form/person?id={hostile['form_person']}", cookies=staff)
    assert edit.status_code == 200
    assert_escaped(edit.text, "person edit form")


async def test_the_upload_preview_escapes_hostile_text(hostile):
    ds, staff = hostile["ds"], hostile["staff"]
    community, household, name, number = sample_people(1)[0]
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["发放日期", "社区", "户号", "姓名", "身份证号", "项目", "金额(元)", "备注",
                PAYLOADS[0], PAYLOADS[1]])
    w.writerow(["2013-05-06", community, household, PAYLOADS[0], number, "临时救助", "10", PAYLOADS[0],
                "x", "y"])
    w.writerow(["2013-05-06", community, household, name, number, PAYLOADS[0], "10", PAYLOADS[0],
                "x", "y"])
    w.writerow(["2013-05-06", community, household, name, number, "临时救助", PAYLOADS[1],
                PAYLOADS[0], "x", "y"])
    response = await ds.client.post(URL, cookies=staff, files=[
        ("files", ("发放.csv", out.getvalue().encode(), "text/csv"))])
    assert response.status_code == 200
    assert_escaped(response.text, "upload preview")
    page = visible(response.text)
    assert f"姓名「{PAYLOADS[0]}」与居民名册不符" in page
    assert f"未知的项目「{PAYLOADS[0]}」" in page
    assert f"无法识别的金额「{PAYLOADS[1]}」" in page
    assert f"不认识、将忽略的列：{PAYLOADS[0]}、{PAYLOADS[1]}" in page


# ---------------------------------------------------------------- the Excel exports

async def _export(ds, staff, path):
    response = await ds.client.get(path, cookies=staff)
    if response.status_code == 404:
        pytest.skip(f"the Excel exports (plugins/exports.py) do not serve {path} yet")
    assert response.status_code == 200, response.text[:500]
    return response


async def test_the_excel_csv_export_neutralises_formulas(hostile):
    ds, staff = hostile["ds"], hostile["staff"]
    response = await _export(ds, staff, "/community/persons.excel_csv?_sort_desc=id")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    name = header.index("姓名")
    names = [r[name] for r in body]
    for payload in PAYLOADS:
        expected = "'" + payload if payload in FORMULAS else payload
        assert expected in names, payload
        assert payload not in names or payload not in FORMULAS
    response = await _export(ds, staff, "/community/disbursements.excel_csv?_sort_desc=id")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    notes = [r[rows[0].index("备注")] for r in rows[1:]]
    for payload in FORMULAS:
        assert "'" + payload in notes and payload not in notes


async def test_the_xlsx_export_keeps_formulas_as_text(hostile):
    ds, staff = hostile["ds"], hostile["staff"]
    response = await _export(ds, staff, "/community/visits.xlsx?_sort_desc=id")
    with zipfile.ZipFile(io.BytesIO(response.content)) as package:
        for part in package.namelist():
            if part.startswith("xl/worksheets/"):
                assert b"<f>" not in package.read(part) and b"<f " not in package.read(part), part
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    column = header.index("备注") + 1
    cells = {c.value: c for c in (sheet.cell(row=r, column=column) for r in range(2, sheet.max_row + 1))}
    for payload in PAYLOADS:
        cell = cells[payload]  # the exact text, as a string cell …
        assert cell.data_type == "s", (payload, cell.data_type)
        if payload in FORMULAS:  # … that Excel keeps as text, never evaluates
            assert cell.quotePrefix, payload


# ---------------------------------------------------------------- known gaps elsewhere

async def test_junk_hidden_fields_and_ids_are_not_500(hostile):
    ds, staff = hostile["ds"], hostile["staff"]
    person = str(hostile["form_person"])
    statuses = [
        (await ds.client.post("/-/shequ/form/visit", cookies=staff, data={
            "person_id": person, "走访日期": "2013-01-01", "edit_id": "abc"})).status_code,
        (await ds.client.post("/-/shequ/form/person", cookies=staff, data={
            "姓名": "x", "edit_id": person, "original": "{not json"})).status_code,
        (await ds.client.get("/-/shequ/form/person?id=abc", cookies=staff)).status_code,
        (await ds.client.get("/-/shequ/history/persons/99999999999999999999", cookies=staff)).status_code,
    ]
    assert all(s < 500 for s in statuses), statuses
