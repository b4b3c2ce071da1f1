"""上传台账: staff upload .csv/.xlsx ledgers in the browser, see a dry-run preview of what
the import would do (every bad row with its line, column and reason), then confirm or
cancel. Nothing is written before 确认导入.

Uploaded files wait in `<db_dir>/uploads/<batch>/` with a `batch.json` (who uploaded,
when, which files) until the uploader confirms or cancels, at most 24 hours.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import os
import re
import secrets
import shutil
import unicodedata
from pathlib import Path, PurePath

import sqlite_utils
from datasette import hookimpl
from datasette.utils.asgi import BadRequest, Forbidden, Response
from datasette.utils.multipart import UploadedFile

from ingest import web
from ingest.loader import load_files
from ingest.report import Report
from ingest.templates import TEMPLATES

SUFFIXES = (".csv", ".xlsx")
MAX_FILE_MB = 50
MAX_FILE_SIZE = MAX_FILE_MB * 1024 * 1024
MAX_FILES = 10
BATCH_HOURS = 24
SHOWN_ERRORS = 500  # per sheet; the count says how many more there are
VIA = "上传台账"
BATCH_RE = re.compile(r"^[A-Za-z0-9_-]{16}$")  # secrets.token_urlsafe(12)

BAD_FILES = "有错误的文件不能导入：请修正后重新上传"
CANCELLED = "已取消，未导入任何数据"
GONE = "这批上传的文件不存在：可能已经导入、已经取消，或超过 24 小时已作废。请重新上传"
EXPIRED = "这批上传的文件已超过 24 小时，已作废，未导入任何数据。请重新上传"
NOT_YOURS = "只有上传这批文件的人可以确认或取消"
CHANGED = ("导入时发现错误（数据在预览之后有变化）：有错误的文件整个未写入任何数据，"
           "其余文件已导入。请修正后重新上传有错误的文件")


def _bad_suffix(suffix: str) -> str:
    return f"不支持的文件类型「{suffix or '无扩展名'}」：请上传 .csv 或 .xlsx"


# ── the batch directory ──────────────────────────────────────────────────────

def _uploads(datasette) -> Path:
    return web.db_dir(datasette) / "uploads"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def safe_name(filename: str) -> str:
    """A file name safe to create in the batch directory: no directories, no characters
    Windows or shells trip over, no leading dot, at most 100 characters, suffix kept."""
    name = unicodedata.normalize("NFC", filename.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*')
    suffix = PurePath(name).suffix.lower() if PurePath(name).suffix else ""
    stem = name[:len(name) - len(suffix)] if suffix else name
    stem = stem.strip().lstrip(".").strip()[:100] or "台账"
    return stem + suffix


def _expired(meta: dict) -> bool:
    try:
        created = datetime.datetime.fromisoformat(meta["created"])
    except (KeyError, TypeError, ValueError):
        return True
    return _now() - created > datetime.timedelta(hours=BATCH_HOURS)


def _sweep(uploads: Path):
    """Delete batches older than 24 hours (abandoned previews)."""
    if not uploads.is_dir():
        return
    for path in uploads.iterdir():
        if not path.is_dir():
            continue
        try:
            meta = json.loads((path / "batch.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
            stale = _now().timestamp() - path.stat().st_mtime > BATCH_HOURS * 3600
        else:
            stale = _expired(meta)
        if stale:
            shutil.rmtree(path, ignore_errors=True)


def _batch(datasette, request, batch_id) -> tuple[Path, dict]:
    """The batch directory and its batch.json, for its uploader only."""
    if not batch_id or not BATCH_RE.match(batch_id):
        raise _Gone(GONE)
    path = _uploads(datasette) / batch_id
    try:
        meta = json.loads((path / "batch.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise _Gone(GONE)
    if meta.get("actor") != request.actor.get("id"):
        raise Forbidden(NOT_YOURS)
    if _expired(meta):
        shutil.rmtree(path, ignore_errors=True)
        raise _Gone(EXPIRED)
    return path, meta


class _Gone(Exception):
    pass


# ── pages ────────────────────────────────────────────────────────────────────

def _require_writer(request):
    if not web.can_write(request.actor):
        raise Forbidden("只有工作人员和管理员可以上传台账")


def _sheet_view(report: Report) -> dict:
    errors = sorted(report.errors, key=lambda e: e.line)
    return {
        "title": report.title, "file": report.path.name, "sheet": report.sheet,
        "summary": report.summary(), "added": report.added, "updated": report.updated,
        "unchanged": report.unchanged, "refused": report.refused,
        "already_loaded_at": report.already_loaded_at, "ok": report.ok,
        "bad_lines": report.bad_lines, "errors": errors[:SHOWN_ERRORS],
        # the report keeps the first errors and counts them all
        "more_errors": max(0, max(report.error_count, len(errors)) - SHOWN_ERRORS),
        "error_count": max(report.error_count, len(errors)),
        "ignored_headers": report.ignored_headers,
    }


async def _render(datasette, request, stage, status=200, **context):
    context = {"stage": stage, "max_file_mb": MAX_FILE_MB, "max_files": MAX_FILES,
               "batch_hours": BATCH_HOURS, "templates": TEMPLATES,
               "accept": ",".join(SUFFIXES), **context}
    html = await datasette.render_template("shequ_upload.html", context, request=request)
    return Response.html(html, status=status)


def _form_error(e: BadRequest) -> str:
    text = str(e)
    if "File too large" in text:
        return f"文件太大：每个文件不能超过 {MAX_FILE_MB} MB"
    if "Too many files" in text or "Too many parts" in text:
        return f"文件太多：一次最多上传 {MAX_FILES} 个文件"
    if "Request body too large" in text:
        return f"上传的内容太大：每个文件不超过 {MAX_FILE_MB} MB，一次最多 {MAX_FILES} 个文件"
    return f"无法读取上传的内容（{text}），请重新上传"


async def upload_page(request, datasette):
    _require_writer(request)
    if request.method != "POST":
        return await _render(datasette, request, "form")
    try:
        form = await request.form(files=True, max_file_size=MAX_FILE_SIZE, max_files=MAX_FILES,
                                  max_request_size=MAX_FILES * MAX_FILE_SIZE + (1 << 20),
                                  max_fields=20)
    except BadRequest as e:
        return await _render(datasette, request, "form", status=400, error=_form_error(e))
    try:
        return await _preview(request, datasette, form)
    finally:
        await form.aclose()


async def _preview(request, datasette, form):
    uploads = _uploads(datasette)
    await asyncio.to_thread(_sweep, uploads)
    chosen = [f for f in form.getlist("files") if isinstance(f, UploadedFile) and f.filename]
    if not chosen:
        return await _render(datasette, request, "form", status=400,
                             error="请先选择要上传的台账文件（.csv 或 .xlsx）")
    actor = request.actor["id"]
    batch_id = secrets.token_urlsafe(12)
    batch_dir = uploads / batch_id
    refused, saved = [], []
    for upload in chosen:
        name = safe_name(upload.filename)
        suffix = PurePath(name).suffix
        if suffix not in SUFFIXES:
            refused.append(Report(Path(name), refused=_bad_suffix(PurePath(upload.filename).suffix),
                                  dry_run=True))
            continue
        taken = {f["name"] for f in saved}
        stem, n = name[:-len(suffix)], 2
        while name in taken:
            name, n = f"{stem}-{n}{suffix}", n + 1
        batch_dir.mkdir(parents=True, exist_ok=True)
        with open(batch_dir / name, "wb") as out:
            while chunk := await upload.read(1 << 20):
                await asyncio.to_thread(out.write, chunk)
        saved.append({"name": name, "original": upload.filename, "size": upload.size})
    reports = list(refused)
    if saved:
        meta = {"actor": actor, "created": _now().isoformat(timespec="seconds"), "files": saved}
        (batch_dir / "batch.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1),
                                              encoding="utf-8")
        paths = [batch_dir / f["name"] for f in saved]
        db = datasette.get_database(web.staff_db(datasette))
        try:
            reports += await db.execute_write_fn(
                lambda conn: load_files(sqlite_utils.Database(conn), paths, actor=actor,
                                        via=VIA, dry_run=True),
                request=request)
        except BaseException:
            shutil.rmtree(batch_dir, ignore_errors=True)  # no preview, nothing to confirm
            raise
    clean = all(r.ok and not r.errors for r in reports)
    return await _render(datasette, request, "preview", batch=batch_id if saved else None,
                         sheets=[_sheet_view(r) for r in reports], clean=clean,
                         bad_files=BAD_FILES)


async def confirm(request, datasette):
    _require_writer(request)
    posted = await request.post_vars()
    try:
        batch_dir, meta = _batch(datasette, request, posted.get("batch"))
    except _Gone as e:
        return await _render(datasette, request, "form", status=410, error=str(e))
    # claim the batch, so a second click (or tab) cannot import it again
    claimed = batch_dir.with_name(batch_dir.name + ".importing")
    try:
        os.rename(batch_dir, claimed)
    except OSError:
        return await _render(datasette, request, "form", status=410, error=GONE)
    try:
        paths = [claimed / f["name"] for f in meta["files"]]
        actor = request.actor["id"]
        db = datasette.get_database(web.staff_db(datasette))
        reports = await db.execute_write_fn(
            lambda conn: load_files(sqlite_utils.Database(conn), paths, actor=actor, via=VIA),
            request=request)
    finally:
        await asyncio.to_thread(shutil.rmtree, claimed, True)
    ok = all(r.ok for r in reports)
    return await _render(datasette, request, "done", sheets=[_sheet_view(r) for r in reports],
                         clean=ok, changed=None if ok else CHANGED,
                         database=web.staff_db(datasette))


async def cancel(request, datasette):
    _require_writer(request)
    posted = await request.post_vars()
    try:
        batch_dir, _ = _batch(datasette, request, posted.get("batch"))
    except _Gone:
        pass  # nothing left to cancel: the outcome is the same
    else:
        await asyncio.to_thread(shutil.rmtree, batch_dir, True)
    datasette.add_message(request, CANCELLED)
    return Response.redirect("/-/shequ/upload")


@hookimpl
def register_routes():
    return [(r"^/-/shequ/upload$", upload_page),
            (r"^/-/shequ/upload/confirm$", confirm),
            (r"^/-/shequ/upload/cancel$", cancel)]


@hookimpl
def menu_links(datasette, actor):
    if not web.can_write(actor):
        return []
    return [{"href": "/-/shequ/upload", "label": "上传台账"}]
