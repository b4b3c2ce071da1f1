"""上传台账 (/-/shequ/upload) in-process: preview is a dry run that writes nothing, bad rows
are listed and block the import, confirm writes as the uploader through 上传台账, cancel
and expiry throw the batch away. Also the loader's dry run itself."""
from __future__ import annotations

import csv
import datetime
import io
import json
import re
import sqlite3

import pytest

from ingest import schema
from ingest.app import make_datasette
from ingest.loader import load_files
from ingest.validators import make_id_number

from .conftest import SAMPLE_DIR, login

URL = "/-/shequ/upload"
DISB_HEADER = ["发放日期", "社区", "户号", "姓名", "身份证号", "项目", "方式", "金额(元)", "备注"]
REG_HEADER = ["社区", "户号", "姓名", "身份证号", "联系电话"]
CSV_MIME = "text/csv"
BAD_FILES = "有错误的文件不能导入：请修正后重新上传"
STAMP = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


def registry_people(n=3):
    with open(SAMPLE_DIR / "02_registry.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(r["社区"], r["户号"], r["姓名"], r["身份证号"]) for r in rows[:n]]


def wrong_check(id_number):
    """The same number with a wrong check character, and the reason the loader gives."""
    bad = id_number[:-1] + ("0" if id_number[-1] != "0" else "1")
    return bad, f"身份证号校验位错误（应为 {id_number[-1]}）"


def disb_csv(people, amounts=None, paid_on="2013-05-06", note="上传测试"):
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(DISB_HEADER)
    for i, (community, household, name, id_number) in enumerate(people):
        amount = amounts[i] if amounts else "200"
        w.writerow([paid_on, community, household, name, id_number, "春节慰问", "现金", amount, note])
    return out.getvalue().encode("utf-8")


def counts(data_dir):
    conn = sqlite3.connect(data_dir / "community.db")
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("disbursements", "persons", "audit_log", "imports")}
    finally:
        conn.close()


def batch_of(html):
    m = re.search(r'name="batch" value="([^"]+)"', html)
    return m[1] if m else None


@pytest.fixture
def uds(data_dir):
    return make_datasette(data_dir)


@pytest.fixture
async def staff(uds):
    return await login(uds, "staff1")


async def post_files(uds, cookies, *files):
    return await uds.client.post(URL, files=[("files", f) for f in files], cookies=cookies)


# ---------------------------------------------------------------- who may upload

async def test_viewer_and_anonymous_are_refused(uds):
    viewer = await login(uds, "viewer1")
    body = disb_csv(registry_people(1))
    for cookies in (viewer, {}):
        assert (await uds.client.get(URL, cookies=cookies)).status_code == 403
        response = await post_files(uds, cookies, ("发放.csv", body, CSV_MIME))
        assert response.status_code == 403
        for action in ("confirm", "cancel"):
            response = await uds.client.post(f"{URL}/{action}", data={"batch": "x" * 16},
                                             cookies=cookies)
            assert response.status_code == 403


async def test_the_form_and_the_menu_link(uds, staff):
    response = await uds.client.get(URL, cookies=staff)
    assert response.status_code == 200
    html = response.text
    assert '<input type="file" id="upload-files" name="files" multiple accept=".csv,.xlsx" required>' in html
    assert '<input type="submit" value="预览">' in html
    assert "在您点“确认导入”之前，不会写入任何数据。" in html
    assert "救助发放" in html and "居民名册" in html
    assert "每个文件不超过 50 MB，一次最多 10 个文件" in html
    home = (await uds.client.get("/", cookies=staff)).text
    assert 'href="/-/shequ/upload"' in home and "上传台账" in home
    admin = await login(uds, "admin1")
    assert 'href="/-/shequ/upload"' in (await uds.client.get("/", cookies=admin)).text
    viewer = await login(uds, "viewer1")
    assert 'href="/-/shequ/upload"' not in (await uds.client.get("/", cookies=viewer)).text


# ---------------------------------------------------------------- preview

async def test_clean_preview_says_what_would_be_added_and_writes_nothing(uds, staff, data_dir):
    before = counts(data_dir)
    response = await post_files(uds, staff, ("发放.csv", disb_csv(registry_people()), CSV_MIME))
    assert response.status_code == 200, response.text
    html = response.text
    assert "救助发放 发放.csv：将新增 3 行，更新 0 行，未变 0 行" in html
    assert "/-/shequ/upload/confirm" in html and 'value="确认导入"' in html
    assert "/-/shequ/upload/cancel" in html
    assert BAD_FILES not in html
    assert counts(data_dir) == before
    batch = batch_of(html)
    batch_dir = data_dir / "uploads" / batch
    meta = json.loads((batch_dir / "batch.json").read_text(encoding="utf-8"))
    assert meta["actor"] == "staff1"
    assert [f["name"] for f in meta["files"]] == ["发放.csv"]
    assert datetime.datetime.fromisoformat(meta["created"]).tzinfo is not None
    assert (batch_dir / "发放.csv").read_bytes() == disb_csv(registry_people())
    assert not list(batch_dir.glob("*.rejects.csv"))


async def test_bad_rows_are_listed_and_there_is_no_confirm(uds, staff, data_dir):
    people = registry_people(4)
    bad_id, reason = wrong_check(people[2][3])
    people[2] = (*people[2][:3], bad_id)
    before = counts(data_dir)
    body = disb_csv(people, amounts=["200", "-5", "200", "200"])
    response = await post_files(uds, staff, ("发放.csv", body, CSV_MIME))
    html = response.text
    assert "<tr><td>3</td><td>金额(元)</td><td>金额不能为负数</td></tr>" in html
    assert f"<tr><td>4</td><td>身份证号</td><td>{reason}</td></tr>" in html
    assert html.count("<tr><td>") == 2  # exactly the two bad rows
    assert "救助发放 发放.csv：有 2 行错误，整个文件不能导入" in html
    assert BAD_FILES in html
    assert "/-/shequ/upload/confirm" not in html and "确认导入</" not in html
    assert 'value="确认导入"' not in html
    assert "/-/shequ/upload/cancel" in html
    assert counts(data_dir) == before


async def test_a_txt_file_is_refused_in_chinese_and_blocks_the_batch(uds, staff, data_dir):
    response = await post_files(uds, staff, ("名单.txt", b"hello", "text/plain"),
                                ("发放.csv", disb_csv(registry_people()), CSV_MIME))
    html = response.text
    assert "不支持的文件类型「.txt」：请上传 .csv 或 .xlsx" in html
    assert "救助发放 发放.csv：将新增 3 行" in html
    assert BAD_FILES in html and 'value="确认导入"' not in html
    batch_dir = data_dir / "uploads" / batch_of(html)
    assert sorted(p.name for p in batch_dir.iterdir()) == ["batch.json", "发放.csv"]


async def test_only_a_txt_file(uds, staff, data_dir):
    response = await post_files(uds, staff, ("名单.TXT", b"hello", "text/plain"))
    html = response.text
    assert "不支持的文件类型「.TXT」：请上传 .csv 或 .xlsx" in html
    assert batch_of(html) is None and "重新上传" in html
    assert not (data_dir / "uploads").exists() or not any((data_dir / "uploads").iterdir())


async def test_a_file_matching_no_template_is_refused(uds, staff):
    response = await post_files(uds, staff, ("x.csv", "甲,乙\n1,2\n".encode(), CSV_MIME))
    assert "x.csv：拒绝导入。表头不符合任何模板" in response.text
    assert BAD_FILES in response.text


async def test_file_names_are_sanitised(uds, staff, data_dir):
    body = disb_csv(registry_people(1))
    response = await post_files(uds, staff, ("../../evil?.csv", body, CSV_MIME),
                                (".hidden.CSV", body, CSV_MIME), ("evil.csv", body, CSV_MIME))
    batch_dir = data_dir / "uploads" / batch_of(response.text)
    assert sorted(p.name for p in batch_dir.iterdir()) == [
        "batch.json", "evil-2.csv", "evil.csv", "hidden.csv"]
    assert not (data_dir.parent / "evil.csv").exists()


async def test_too_many_files(uds, staff):
    body = disb_csv(registry_people(1))
    response = await post_files(uds, staff, *[(f"{i}.csv", body, CSV_MIME) for i in range(11)])
    assert response.status_code == 400
    assert "文件太多：一次最多上传 10 个文件" in response.text


async def test_a_file_over_50_mb_is_refused(uds, staff, data_dir):
    body = b"a" * (50 * 1024 * 1024 + 1)
    response = await post_files(uds, staff, ("big.csv", body, CSV_MIME))
    assert response.status_code == 400
    assert "文件太大：每个文件不能超过 50 MB" in response.text
    assert not (data_dir / "uploads").exists() or not any((data_dir / "uploads").iterdir())


async def test_nothing_chosen(uds, staff):
    response = await post_files(uds, staff, ("", b"", "application/octet-stream"))
    assert response.status_code == 400
    assert "请先选择要上传的台账文件" in response.text


async def test_preview_of_registry_and_payments_together(uds, staff, data_dir):
    """A later sheet of the batch sees what an earlier one would write (the new residents)."""
    new = [("跃华社区", "YH9001", "上传甲", make_id_number("500199", "19600101", "013")),
           ("跃华社区", "YH9001", "上传乙", make_id_number("500199", "19620202", "024"))]
    registry = io.StringIO()
    csv.writer(registry).writerows([REG_HEADER, *[[*p, ""] for p in new]])
    before = counts(data_dir)
    response = await post_files(uds, staff, ("发放.csv", disb_csv(new), CSV_MIME),
                                ("名册.csv", registry.getvalue().encode(), CSV_MIME))
    html = response.text
    assert "居民名册 名册.csv：将新增 2 行" in html
    assert "救助发放 发放.csv：将新增 2 行" in html
    assert BAD_FILES not in html
    assert counts(data_dir) == before
    response = await uds.client.post(f"{URL}/confirm", data={"batch": batch_of(html)},
                                     cookies=staff)
    assert "导入完成" in response.text
    after = counts(data_dir)
    assert after["persons"] == before["persons"] + 2
    assert after["disbursements"] == before["disbursements"] + 2


# ---------------------------------------------------------------- confirm / cancel

async def test_cancel_deletes_the_batch_and_writes_nothing(uds, staff, data_dir):
    before = counts(data_dir)
    html = (await post_files(uds, staff, ("发放.csv", disb_csv(registry_people()), CSV_MIME))).text
    batch = batch_of(html)
    assert (data_dir / "uploads" / batch).is_dir()
    response = await uds.client.post(f"{URL}/cancel", data={"batch": batch}, cookies=staff)
    assert response.status_code == 302 and response.headers["location"] == URL
    assert not (data_dir / "uploads" / batch).exists()
    assert counts(data_dir) == before
    page = await uds.client.get(URL, cookies={**staff, **dict(response.cookies)})
    assert "已取消，未导入任何数据" in page.text
    # the batch is gone: confirming it now imports nothing
    response = await uds.client.post(f"{URL}/confirm", data={"batch": batch}, cookies=staff)
    assert response.status_code == 410 and "这批上传的文件不存在" in response.text
    assert counts(data_dir) == before


async def test_confirm_imports_as_the_uploader_through_upload(uds, staff, data_dir):
    before = counts(data_dir)
    html = (await post_files(uds, staff, ("发放.csv", disb_csv(registry_people()), CSV_MIME))).text
    batch = batch_of(html)
    response = await uds.client.post(f"{URL}/confirm", data={"batch": batch}, cookies=staff)
    assert response.status_code == 200
    assert "导入完成" in response.text
    assert "救助发放 发放.csv：新增 3 行，更新 0 行，未变 0 行" in response.text
    assert not (data_dir / "uploads" / batch).exists()
    assert not list((data_dir / "uploads").iterdir())
    after = counts(data_dir)
    assert after["disbursements"] == before["disbursements"] + 3
    assert after["imports"] == before["imports"] + 1
    conn = sqlite3.connect(data_dir / "community.db")
    rows = conn.execute(
        "SELECT a.actor, a.via, a.action FROM audit_log a JOIN disbursements d"
        " ON a.table_name = 'disbursements' AND a.row_id = d.id WHERE d.note = '上传测试'").fetchall()
    assert rows == [("staff1", "上传台账", "insert")] * 3
    assert conn.execute("SELECT actor, file_name FROM imports ORDER BY id DESC LIMIT 1").fetchone() \
        == ("staff1", "发放.csv")
    assert conn.execute("SELECT count(*) FROM _audit_context").fetchone()[0] == 0
    conn.close()
    # confirming twice (a second click) imports nothing more
    again = await uds.client.post(f"{URL}/confirm", data={"batch": batch}, cookies=staff)
    assert again.status_code == 410
    assert counts(data_dir) == after


async def test_confirm_by_another_user_is_refused(uds, staff, data_dir):
    before = counts(data_dir)
    html = (await post_files(uds, staff, ("发放.csv", disb_csv(registry_people()), CSV_MIME))).text
    batch = batch_of(html)
    admin = await login(uds, "admin1")
    for action in ("confirm", "cancel"):
        response = await uds.client.post(f"{URL}/{action}", data={"batch": batch}, cookies=admin)
        assert response.status_code == 403
        assert "只有上传这批文件的人可以确认或取消" in response.text
    assert (data_dir / "uploads" / batch).is_dir()
    assert counts(data_dir) == before
    response = await uds.client.post(f"{URL}/confirm", data={"batch": batch}, cookies=staff)
    assert "导入完成" in response.text


async def test_a_batch_expires_after_24_hours(uds, staff, data_dir):
    before = counts(data_dir)
    html = (await post_files(uds, staff, ("发放.csv", disb_csv(registry_people()), CSV_MIME))).text
    batch_dir = data_dir / "uploads" / batch_of(html)
    meta_path = batch_dir / "batch.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["created"] = (datetime.datetime.now(datetime.timezone.utc)
                       - datetime.timedelta(hours=25)).isoformat(timespec="seconds")
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    response = await uds.client.post(f"{URL}/confirm", data={"batch": batch_dir.name},
                                     cookies=staff)
    assert response.status_code == 410 and "已超过 24 小时" in response.text
    assert not batch_dir.exists()
    assert counts(data_dir) == before


async def test_stale_batches_are_swept_on_the_next_upload(uds, staff, data_dir):
    html = (await post_files(uds, staff, ("发放.csv", disb_csv(registry_people()), CSV_MIME))).text
    old = data_dir / "uploads" / batch_of(html)
    meta = json.loads((old / "batch.json").read_text(encoding="utf-8"))
    meta["created"] = "2000-01-01T00:00:00+00:00"
    (old / "batch.json").write_text(json.dumps(meta), encoding="utf-8")
    await post_files(uds, staff, ("发放.csv", disb_csv(registry_people()), CSV_MIME))
    assert not old.exists()


async def test_data_changed_since_preview(uds, staff, data_dir):
    """The confirm re-checks: a row that became bad after the preview blocks its file."""
    people = registry_people()
    html = (await post_files(uds, staff, ("发放.csv", disb_csv(people), CSV_MIME))).text
    conn = sqlite3.connect(data_dir / "community.db")
    with conn:
        conn.execute("INSERT INTO _audit_context (id, actor, via) VALUES (1, '测试', '测试')")
        conn.execute("UPDATE persons SET name = '改过的名字' WHERE id_number = ?", [people[1][3]])
        conn.execute("DELETE FROM _audit_context")
    conn.close()
    before = counts(data_dir)
    response = await uds.client.post(f"{URL}/confirm", data={"batch": batch_of(html)},
                                     cookies=staff)
    html = response.text
    assert "导入时发现错误（数据在预览之后有变化）" in html
    assert "救助发放 发放.csv：有 1 行错误，整个文件未写入任何数据" in html
    assert "<tr><td>3</td><td>姓名</td>" in html
    assert counts(data_dir) == before


async def test_the_same_file_again_says_already_loaded(uds, staff, data_dir):
    body = disb_csv(registry_people())
    html = (await post_files(uds, staff, ("发放.csv", body, CSV_MIME))).text
    await uds.client.post(f"{URL}/confirm", data={"batch": batch_of(html)}, cookies=staff)
    before = counts(data_dir)
    html = (await post_files(uds, staff, ("另一个名字.csv", body, CSV_MIME))).text
    assert re.search(rf"救助发放 另一个名字.csv：已于 {STAMP} 导入过，再次导入不会做任何修改", html)
    assert counts(data_dir) == before


# ---------------------------------------------------------------- the loader's dry run

def _files(tmp_path):
    new = [("跃华社区", "YH01", "张晓明", make_id_number("500199", "19500305", "011")),
           ("跃华社区", "YH02", "李秀英", make_id_number("500199", "19620715", "022"))]
    reg = tmp_path / "名册.csv"
    with open(reg, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([REG_HEADER, *[[*p, ""] for p in new]])
    disb = tmp_path / "发放.csv"
    disb.write_bytes(disb_csv(new, amounts=["100", "-5"]))
    return reg, disb


def _fresh(tmp_path):
    db = schema.connect(tmp_path / "community.db")
    schema.migrate(db)
    return db


def _all_counts(db):
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("persons", "disbursements", "audit_log", "imports", "communities")}


@pytest.mark.parametrize("in_transaction", [False, True])
def test_dry_run_reports_what_would_happen_and_writes_nothing(tmp_path, in_transaction):
    db = _fresh(tmp_path)
    reg, disb = _files(tmp_path)
    before = _all_counts(db)
    if in_transaction:  # as under Datasette's execute_write_fn
        db.execute("BEGIN IMMEDIATE")
    reports = load_files(db, [disb, reg], skip_bad=True, actor="测试", via="测试导入", dry_run=True)
    if in_transaction:
        assert db.conn.in_transaction
        db.execute("COMMIT")
    assert [r.summary() for r in reports] == [
        "居民名册 名册.csv：将新增 2 行，更新 0 行，未变 0 行",
        "救助发放 发放.csv：将新增 1 行，更新 0 行，未变 0 行，将跳过错误行 1 行"]
    assert all(r.dry_run and r.ok and r.would_write and not r.written for r in reports)
    assert _all_counts(db) == before
    assert not list(tmp_path.glob("*.rejects.csv"))
    # strict dry run: the bad file would be refused whole; the registry would still load
    reports = load_files(db, [disb, reg], actor="测试", via="测试导入", dry_run=True)
    assert [r.summary() for r in reports] == [
        "居民名册 名册.csv：将新增 2 行，更新 0 行，未变 0 行",
        "救助发放 发放.csv：有 1 行错误，整个文件不能导入"]
    assert not reports[1].ok and not reports[1].would_write
    assert _all_counts(db) == before
    # after a real import the dry run says "already loaded", a real run says the same
    load_files(db, [reg], actor="测试", via="测试导入")
    [report] = load_files(db, [reg], actor="测试", via="测试导入", dry_run=True)
    assert re.fullmatch(rf"居民名册 名册.csv：已于 {STAMP} 导入过，再次导入不会做任何修改",
                        report.summary())
    assert report.ok


def test_dry_run_of_a_refused_file(tmp_path):
    db = _fresh(tmp_path)
    path = tmp_path / "x.txt"
    path.write_text("hello", encoding="utf-8")
    [report] = load_files(db, [path], dry_run=True)
    assert report.summary() == "x.txt：拒绝导入。不支持的文件类型「.txt」：请上传 .csv 或 .xlsx"
    assert not report.ok
