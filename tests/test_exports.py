"""Excel-ready exports: .xlsx and CSV for Excel of whole tables and stored queries, streamed
with constant memory, formula payloads neutralised, permissions as for the pages."""
from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import random
import shutil
import sqlite3
import threading
import time
import tracemalloc
import zipfile
from urllib.parse import unquote

import openpyxl
import pytest

from ingest import aggregates, audit, exports, schema, search
from ingest.app import make_datasette

from .conftest import login

ROWS = 100_000
PAYLOADS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-1+2",
            "\t=1+2", "\r=1+2", "＝1+1"]
INJECTOR = "注入测试"  # the handler of the payload rows
HEADER = ["编号", "发放日期", "社区", "户号", "受助人", "项目", "方式", "物品", "金额（元）",
          "金额（分，由金额（元）自动换算，用于精确合计）", "经办人", "备注"]


@pytest.fixture(scope="module")
def big_dir(built_dir, tmp_path_factory):
    """The sample data with disbursements replaced by exactly 100,000 rows, written the way
    the bulk writers do (one transaction, an actor; audit, search and aggregates set-based)."""
    path = tmp_path_factory.mktemp("exports") / "data"
    shutil.copytree(built_dir, path)
    db = schema.connect(path / "community.db")
    persons = db.execute("SELECT id, community_id FROM persons ORDER BY id").fetchall()
    programs = [r[0] for r in db.execute("SELECT id FROM programs ORDER BY id")]
    rng = random.Random(7)
    start = dt.date(2012, 1, 1)
    rows = []
    for i in range(ROWS - len(PAYLOADS)):
        person, community = persons[i % len(persons)]
        rows.append(((start + dt.timedelta(days=i % 1500)).isoformat(), community,
                     f"YH{i % 700:04d}", person, programs[i % len(programs)],
                     "实物" if i % 4 == 0 else "现金", "米、油" if i % 4 == 0 else None,
                     None if i % 97 == 0 else rng.randrange(1, 500_000) / 100, "渝蓉",
                     "备注" if i % 5 == 0 else None))
    rows += [("2013-05-01", persons[0][1], "YH0001", persons[0][0], programs[0], "现金", None,
              100.0, INJECTOR, p) for p in PAYLOADS]
    with db.atomic(), audit.acting(db.conn, "测试", "测试"):
        db.execute("DELETE FROM disbursements")
        with aggregates.bulk(db.conn):  # the bulk writers' way: audit and aggregates set-based
            db.conn.executemany(
                "INSERT INTO disbursements (paid_on, community_id, household_no, person_id, program_id,"
                " method, goods, amount_yuan, handler, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            audit.record_inserts(db.conn, "disbursements")
            search.index_rows(db.conn, "disbursements", "1")
            aggregates.queue_payments(db.conn)
            aggregates.apply(db.conn)
    db.close()
    return path


@pytest.fixture(scope="module")
async def big(big_dir):
    ds = make_datasette(big_dir)
    jar = {role: await login(ds, f"{role}1") for role in ("staff", "viewer")}
    conn = sqlite3.connect(big_dir / "community.db")
    yield ds, jar, conn
    conn.close()


def read_csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def disposition_name(response) -> str:
    value = response.headers["content-disposition"]
    assert value.startswith("attachment;") and 'filename="' in value
    return unquote(value.split("filename*=UTF-8''", 1)[1])


# ------------------------------------------------------------------ the 100,000-row table

async def test_xlsx_of_100k_rows_has_every_row_numbers_and_real_dates(big):
    ds, jar, conn = big
    started = time.perf_counter()
    response = await ds.client.get("/community/disbursements.xlsx", cookies=jar["staff"])
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == exports.XLSX_TYPE
    assert disposition_name(response).startswith("救助发放_") and disposition_name(response).endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    assert book.sheetnames == ["救助发放", "字段说明"]
    rows = book["救助发放"].iter_rows(values_only=True)
    assert list(next(rows)) == HEADER
    count, total, dates, expected = 0, 0.0, set(), dict(
        (r[0], r) for r in conn.execute("SELECT * FROM disbursements WHERE id % 1000 = 1"))
    for row in rows:
        count += 1
        assert isinstance(row[0], int) and isinstance(row[1], dt.datetime)
        if row[8] is not None:
            assert isinstance(row[8], float) and isinstance(row[9], int)
            total += row[9]
        dates.add(row[1])
        if row[0] in expected:  # spot checks against the database, cell by cell
            db_row = expected.pop(row[0])
            assert row[1].date().isoformat() == db_row[1]
            assert list(row[2:]) == list(db_row[2:])
    assert count == ROWS and not expected
    assert total == conn.execute("SELECT sum(amount_fen) FROM disbursements").fetchone()[0]
    assert len(dates) == 1500
    info = [tuple(r) for r in book["字段说明"].iter_rows(values_only=True)]
    assert ("B", "发放日期", "paid_on") in info and ("行数", str(ROWS)) in info
    print(f"\n.xlsx, {ROWS:,} rows: {elapsed:.2f} s, {len(response.content) / 1e6:.1f} MB")


async def test_excel_csv_of_100k_rows_has_bom_and_round_trips(big):
    ds, jar, conn = big
    started = time.perf_counter()
    response = await ds.client.get("/community/disbursements.excel_csv", cookies=jar["viewer"])
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert disposition_name(response).endswith(".csv")
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body[:400]
    rows = read_csv(body)
    assert rows[0] == HEADER and len(rows) == ROWS + 1
    by_id = {int(r[0]): r for r in rows[1:]}
    for db_row in conn.execute("SELECT * FROM disbursements WHERE id % 997 = 3"):
        assert by_id[db_row[0]] == ["" if v is None else str(v) for v in db_row]
    assert sum(int(r[9]) for r in rows[1:] if r[9]) == conn.execute(
        "SELECT sum(amount_fen) FROM disbursements").fetchone()[0]
    print(f"\nCSV for Excel, {ROWS:,} rows: {elapsed:.2f} s, {len(body) / 1e6:.1f} MB")


async def test_filters_sort_and_columns_apply_but_not_page_size(big):
    ds, jar, conn = big
    community = conn.execute("SELECT community_id FROM disbursements LIMIT 1").fetchone()[0]
    response = await ds.client.get(
        f"/community/disbursements.excel_csv?community_id={community}&method=现金"
        "&_sort_desc=amount_yuan&_col=paid_on&_col=amount_yuan&_size=5&_next=5",
        cookies=jar["staff"])
    assert response.status_code == 200, response.text
    rows = read_csv(response.content)
    expected = conn.execute(
        "SELECT id, paid_on, amount_yuan FROM disbursements WHERE community_id = ? AND method = '现金'"
        " ORDER BY amount_yuan DESC, id", [community]).fetchall()
    assert rows[0] == ["编号", "发放日期", "金额（元）"]
    got = [(int(i), d, float(a) if a else None) for i, d, a in rows[1:]]
    assert sorted(got) == sorted(expected) and len(expected) > 10_000
    amounts = [a for _, _, a in got]  # largest first, then the rows without an amount
    assert amounts == sorted(amounts, key=lambda a: (a is not None, a or 0), reverse=True)


async def test_formula_payloads_are_neutralised_in_both_formats(big):
    ds, jar, _ = big
    path = f"/community/disbursements.{{}}?handler={INJECTOR}&_sort=id"
    rows = read_csv((await ds.client.get(path.format("excel_csv"), cookies=jar["staff"])).content)
    notes = [r[11] for r in rows[1:]]
    assert notes == ["'" + p for p in PAYLOADS]

    response = await ds.client.get(path.format("xlsx"), cookies=jar["staff"])
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as package:
        assert b"<f>" not in package.read("xl/worksheets/sheet1.xml")  # no formula anywhere
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))["救助发放"]
    cells = [row[11] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == PAYLOADS  # the data itself is untouched
    for cell in cells:
        # Text, and marked "keep as typed" (Excel's own leading-quote flag): editing the
        # cell in Excel does not turn it into a formula either.
        assert cell.data_type == "s" and cell.quotePrefix


# ------------------------------------------------------------------ constant memory, streaming

async def _raw_get(ds, path, cookies, *, stop_after=None):
    """Drive the ASGI app directly, dropping body chunks as they come (as a server that
    forwards them would): (status, headers, bytes, chunks). stop_after=N: the client
    disconnects after N body chunks."""
    app = ds.app()
    path, _, query = path.partition("?")
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": query.encode(), "server": ("localhost", 80),
             "client": ("127.0.0.1", 5000), "headers": [(b"host", b"localhost"),
                                                        (b"cookie", cookie.encode())]}
    done, gone = asyncio.Event(), asyncio.Event()
    state = {"status": None, "headers": {}, "bytes": 0, "chunks": 0, "requested": False}

    async def receive():
        if not state["requested"]:
            state["requested"] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
            state["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            state["bytes"] += len(message.get("body", b""))
            state["chunks"] += 1
            if stop_after and state["chunks"] >= stop_after:
                gone.set()
            if not message.get("more_body"):
                done.set()

    task = asyncio.create_task(app(scope, receive, send))
    await asyncio.wait([task, asyncio.create_task(done.wait()), asyncio.create_task(gone.wait())],
                       return_when=asyncio.FIRST_COMPLETED)
    if not gone.is_set():
        gone.set()
    await asyncio.wait_for(task, 60)
    return state


async def _peak(ds, path, cookies):
    tracemalloc.start()
    try:
        state = await _raw_get(ds, path, cookies)
        return state, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_exports_stream_in_constant_memory(big):
    """Ten times the rows, the same memory: the file is never held whole, only a batch of
    rows and a few chunks of output at a time (tracemalloc sees every thread; it slows the
    .xlsx writer eightfold, hence 50,000 rows there)."""
    ds, jar, _ = big
    for fmt, few, many in (("xlsx", 5_000, 50_000), ("excel_csv", 10_000, ROWS)):
        small, small_peak = await _peak(ds, f"/community/disbursements.{fmt}?id__lte={few}", jar["staff"])
        full, full_peak = await _peak(ds, f"/community/disbursements.{fmt}?id__lte={many}", jar["staff"])
        assert small["status"] == full["status"] == 200
        assert full["bytes"] > 8 * small["bytes"] and full["chunks"] > 10
        assert full_peak < 1.5 * small_peak + 2 ** 20 and full_peak < 16 * 2 ** 20, (
            f"{fmt}: peak {small_peak / 2 ** 20:.1f} MB for {few:,} rows, "
            f"{full_peak / 2 ** 20:.1f} MB for {many:,}")
        print(f"\n{fmt}: {full['bytes'] / 1e6:.1f} MB in {full['chunks']} chunks; peak Python memory "
              f"{small_peak / 2 ** 20:.1f} MB for {few:,} rows, {full_peak / 2 ** 20:.1f} MB for {many:,}")


async def test_a_client_that_goes_away_stops_the_export(big):
    ds, jar, _ = big
    state = await _raw_get(ds, "/community/disbursements.excel_csv", jar["staff"], stop_after=2)
    assert state["status"] == 200 and state["chunks"] < 20
    for _ in range(100):  # the producer thread notices and ends
        if not any(t.name == "shequ-export" for t in threading.enumerate()):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("export thread still running after the client left")


def _plugin():
    from datasette.plugins import pm

    return pm.get_plugin("exports.py")  # plugins/exports.py, as Datasette loaded it


def _export(sql, write, limit_s=0.2):
    return _plugin()._StreamingExport(
        lambda lenient: sqlite3.connect(":memory:", check_same_thread=False), sql, {}, write,
        limit_s=limit_s, content_type=exports.CSV_TYPE,
        headers={"content-disposition": "attachment; filename=x.csv"},
        receive=asyncio.Event().wait, head=False)


async def test_a_stalled_query_is_stopped_and_answered_before_the_download_starts(ds):
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    messages = []

    async def send(message):
        messages.append(message)

    started = time.perf_counter()
    await _export(endless, lambda out, columns, batches: None).asgi_send(send)
    assert time.perf_counter() - started < 5
    start, body = messages
    assert start["status"] == 400 and b"content-disposition" not in dict(start["headers"])
    assert "查询超时" in body["body"].decode()


async def test_a_failure_after_the_first_byte_aborts_instead_of_truncating(ds):
    def write(out, columns, batches):
        out.write(b"x" * _plugin().CHUNK_BYTES)
        raise ValueError("boom")

    messages = []

    async def send(message):
        messages.append(message)

    with pytest.raises(ValueError, match="boom"):
        await _export("SELECT 1", write).asgi_send(send)
    assert messages[0]["status"] == 200
    assert all(m.get("more_body") for m in messages[1:])  # never a "complete" final message


async def test_text_that_is_not_utf8_is_replaced_not_fatal(ds):
    def connect(lenient):  # as plugins/exports.py's _connect does
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        conn.text_factory = (lambda b: str(b, "utf-8", "replace")) if lenient else str
        return conn

    def write(out, columns, batches):
        exports.write_csv(out, columns, columns, batches)

    export = _export("SELECT CAST(x'e4b8ade69687ff' AS TEXT) AS t", write)
    export._connect = connect
    messages = []

    async def send(message):
        messages.append(message)

    await export.asgi_send(send)
    assert messages[0]["status"] == 200
    body = b"".join(m.get("body", b"") for m in messages[1:]).decode("utf-8-sig")
    assert body == "t\r\n中文\ufffd\r\n"


# ------------------------------------------------------------------ stored queries, plain CSV

async def test_stored_query_exports_match_the_query(ds, cookies):
    expected = (await ds.client.get("/community/relief_by_category.json?year=2012&_shape=array",
                                    cookies=cookies["staff"])).json()
    assert len(expected) >= 4
    columns = ["category", "payments", "recipients", "total_yuan"]

    response = await ds.client.get("/community/relief_by_category.xlsx?year=2012", cookies=cookies["staff"])
    assert response.status_code == 200
    assert disposition_name(response).startswith("按类别统计救助发放_2012_")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))["按类别统计救助发放"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == ["类别", "发放笔数", "受助人数", "金额合计（元）"]
    assert [list(r) for r in rows[1:]] == [[e[c] for c in columns] for e in expected]
    assert all(isinstance(r[1], int) and isinstance(r[3], float) for r in rows[1:])

    response = await ds.client.get("/community/relief_by_category.excel_csv?year=2012",
                                   cookies=cookies["staff"])
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = read_csv(response.content)
    assert rows[0] == ["类别", "发放笔数", "受助人数", "金额合计（元）"]
    assert rows[1:] == [[str(e[c]) for c in columns] for e in expected]


async def test_stored_query_dates_and_labels(ds, cookies):
    response = await ds.client.get("/community/election_turnout.xlsx", cookies=cookies["viewer"])
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["社区", "届次", "选举日期"]
    assert all(isinstance(row[2], dt.datetime) for row in sheet.iter_rows(min_row=2, values_only=True))


async def test_write_queries_rows_and_arbitrary_sql_are_not_exported(ds, cookies):
    for path in ("/community/stop_dibao.xlsx", "/community/disbursements/1.xlsx",
                 "/community/-/query.excel_csv?sql=select+1"):
        response = await ds.client.get(path, cookies=cookies["admin"])
        assert response.status_code == 400, path


async def test_plain_csv_for_machines_stays_datasettes_own(ds, cookies):
    response = await ds.client.get("/community/disbursements.csv?_stream=on", cookies=cookies["staff"])
    assert response.status_code == 200
    assert not response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["id", "paid_on", "community_id"] and len(rows) == 281


# ------------------------------------------------------------------ who may download

async def test_public_exports_work_for_anonymous_visitors(ds):
    response = await ds.client.get("/public/relief_by_category_data.xlsx")
    assert response.status_code == 200
    header = [c.value for c in openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0][1]]
    assert "类别" in header and "发放笔数" in header
    response = await ds.client.get("/public/relief_by_category.excel_csv?year=2012&community=")
    assert response.status_code == 200 and read_csv(response.content)[0][0] == "类别"


async def test_community_exports_are_refused_to_anonymous_and_to_roles_without_access(ds, cookies):
    for path in ("/community/disbursements.xlsx", "/community/disbursements.excel_csv",
                 "/community/relief_by_category.xlsx?year=2012", "/community/persons.excel_csv"):
        response = await ds.client.get(path)
        assert response.status_code in (302, 403), path
        assert b"500199" not in response.content
    # audit_log is for staff and admins only, downloads included.
    assert (await ds.client.get("/community/audit_log.xlsx", cookies=cookies["viewer"])).status_code == 403
    assert (await ds.client.get("/community/audit_log.xlsx", cookies=cookies["staff"])).status_code == 200


async def test_pages_link_to_their_exports(ds, cookies):
    html = (await ds.client.get("/community/disbursements?community_id=1&_size=5",
                                cookies=cookies["viewer"])).text
    assert 'href="/community/disbursements.xlsx?community_id=1"' in html
    assert 'href="/community/disbursements.excel_csv?community_id=1"' in html
    assert "下载 Excel（.xlsx）" in html and "下载 CSV（Excel 用）" in html
    html = (await ds.client.get("/public/relief_by_category?year=2012&community=")).text
    assert 'href="/public/relief_by_category.xlsx?year=2012&amp;community="' in html
    html = (await ds.client.get("/community/stop_dibao", cookies=cookies["admin"])).text
    assert "下载 Excel" not in html


async def test_id_numbers_stay_text(ds, cookies):
    response = await ds.client.get("/community/persons.excel_csv", cookies=cookies["staff"])
    rows = read_csv(response.content)
    column = rows[0].index("身份证号")
    cells = [r[column] for r in rows[1:]]
    # All-digit ID numbers get the leading quote (Excel would show 5.00199E+17 and lose the
    # last digits); those ending in X are text to Excel anyway.
    assert all(c[1:].isdigit() if c.startswith("'") else not c.isdigit() for c in cells)
    assert sum(c.startswith("'") for c in cells) > len(cells) / 2
    sheet = openpyxl.load_workbook(io.BytesIO((await ds.client.get(
        "/community/persons.xlsx", cookies=cookies["staff"])).content)).worksheets[0]
    ids = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(v, str) and len(v) in (15, 18) for v in ids)


# ------------------------------------------------------------------ the pure functions

def test_misread_by_excel():
    for text in PAYLOADS + ["0012", "500199196909010255", "-", "+86"]:
        assert exports.misread_by_excel(text), text
    for text in ["", "现金", "12", "13800007914", "2012-01-18", "a=b", "0", "YH0012"]:
        assert not exports.misread_by_excel(text), text


def test_csv_cells_for_excel_and_for_programs():
    rows = [[(1, "现金", -5, 0.5, None), (2, "=1+2", 3, "0012", b"\x00\x01")], [(3, "a,=b", 4, "x", None)]]
    for excel in (True, False):
        out = io.BytesIO()
        assert exports.write_csv(out, ["id", "a", "b", "c", "d"], ["编号", "甲", "乙", "丙", "丁"],
                                 rows, excel=excel) == 3
        text = out.getvalue().decode("utf-8")
        assert text.startswith("\ufeff编号,") if excel else text.startswith("id,a,")
        blob = "（二进制数据，2 字节）"
        assert list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))[1:] == [
            ["1", "现金", "-5", "0.5", ""],
            ["2", "'=1+2" if excel else "=1+2", "3", "'0012" if excel else "0012", blob],
            ["3", "a,=b", "4", "x", ""]]


def test_excel_serials_follow_the_1900_system():
    assert exports.excel_serial(dt.date(1900, 1, 1)) == 1
    assert exports.excel_serial(dt.date(1900, 2, 28)) == 59
    assert exports.excel_serial(dt.date(1900, 3, 1)) == 61  # Excel's phantom 1900-02-29 is 60
    assert exports.excel_serial(dt.date(2012, 1, 18)) == 40926
    assert exports.excel_serial(dt.date(1899, 12, 31)) is None
    assert exports.date_serial("2012-02-30") is None and exports.date_serial("2012-03") is None
    assert exports.datetime_serial("2012-01-18T12:00:00Z") == 40926.5


def test_column_kinds_and_labels():
    kinds = {c: exports.column_kind(c) for c in ("paid_on", "birth_date", "election_date", "at",
                                                  "loaded_at", "start_month", "amount_yuan", "note")}
    assert kinds == {"paid_on": "date", "birth_date": "date", "election_date": "date",
                     "at": "datetime", "loaded_at": "datetime", "start_month": "auto",
                     "amount_yuan": "yuan", "note": "auto"}
    assert exports.column_labels("community", ["community", "payments", "x"],
                                 query="relief_by_community") == ["社区", "发放笔数", "x"]
    assert exports.column_labels("community", ["paid_on"], table="disbursements") == ["发放日期"]


def test_content_disposition_has_an_ascii_fallback():
    value = exports.content_disposition("救助发放_20240501", "disbursements_20240501", "xlsx")
    assert value == ('attachment; filename="disbursements_20240501.xlsx"; '
                     "filename*=UTF-8''%E6%95%91%E5%8A%A9%E5%8F%91%E6%94%BE_20240501.xlsx")
    assert exports.file_stem("按类别/统计", ["2012", "", None], dt.date(2024, 5, 1)) == "按类别_统计_2012_20240501"


def test_xlsx_rows_beyond_excels_limit_continue_on_another_sheet(monkeypatch):
    monkeypatch.setattr(exports, "EXCEL_MAX_ROWS", 11)  # 10 data rows per sheet
    out = io.BytesIO()
    count = exports.write_xlsx(out, ["id", "paid_on"], ["编号", "发放日期"],
                               [[(i, "2012-01-18") for i in range(j, j + 7)] for j in range(0, 28, 7)],
                               title="救助发放")
    assert count == 28
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    assert book.sheetnames == ["救助发放", "救助发放（2）", "救助发放（3）", "字段说明"]
    values = [r[0] for s in book.worksheets[:3] for r in s.iter_rows(min_row=2, values_only=True)]
    assert values == list(range(28))


def test_xlsx_sheets_stay_small_enough_to_need_no_zip64(monkeypatch):
    monkeypatch.setattr(exports, "SHEET_MAX_BYTES", 3000)
    out = io.BytesIO()
    exports.write_xlsx(out, ["id", "note"], ["编号", "备注"],
                       [[(i, "备注" * 20) for i in range(j, j + 400)] for j in range(0, 2000, 400)],
                       title="t")
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    sheets = book.worksheets[:-1]
    assert len(sheets) > 3
    assert [r[0] for s in sheets for r in s.iter_rows(min_row=2, values_only=True)] == list(range(2000))
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as package:
        assert all(i.file_size < 2 ** 31 and not i.extra for i in package.infolist())


def test_xlsx_text_is_kept_exactly():
    out = io.BytesIO()
    texts = [" 前后空格 ", "a & <b>", "第一行\n第二行", "x_x0041_y", "2012-03", "0"]
    exports.write_xlsx(out, ["note"], ["备注"], [[(t,) for t in texts] + [("\x01控制字符",)]], title="t")
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
    values = [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert values[:3] == texts[:3] and values[4:6] == texts[4:6] and values[6] == "\ufffd控制字符"
