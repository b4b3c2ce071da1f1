"""Chinese entry forms for staff, the person picker's search, and the menus that lead
to them. Thin routes over ingest.forms (which runs the ingest pipeline)."""
from __future__ import annotations

import json

from datasette import hookimpl
from datasette.utils.asgi import Forbidden, NotFound, Response

from ingest import forms, web

ROW_FORMS = {  # table → forms offered in its row menu (with ?person=<id>)
    "persons": [("disbursement", "登记发放"), ("visit", "登记走访"), ("dibao", "低保登记（作为户主）")],
}
TABLE_FORMS = {"disbursements": "disbursement", "visits": "visit", "persons": "person",
               "dibao_enrolments": "dibao", "elections": "election", "candidates": "election"}
MENU = [("disbursement", "登记发放"), ("visit", "登记走访"), ("person", "新增居民"),
        ("dibao", "低保登记"), ("election", "录入选举结果")]


def _row_id(value):
    """A row id from a URL or form field, or None; junk and out-of-range ids are refused."""
    if value in (None, ""):
        return None
    if not str(value).isdigit() or int(value) > 2**63 - 1:
        raise NotFound("没有这条记录")
    return int(value)


def _require_writer(request):
    if not web.can_write(request.actor):
        raise Forbidden("只有工作人员和管理员可以录入")


async def _render(datasette, request, form, values, errors=None, status=200, **extra):
    db = datasette.get_database(web.staff_db(datasette))
    choices = await db.execute_fn(lambda conn: forms.choices(conn, form))
    person = None
    if form.person_role and values.get("person_id"):
        person = await db.execute_fn(lambda conn: forms.person_summary(conn, values["person_id"]))
    database = web.staff_db(datasette)
    cancel_url = f"/{database}/persons/{person['id']}" if person else f"/{database}/{form.table}"
    context = {"form": form, "values": values, "errors": errors or {}, "choices": choices,
               "cancel_url": cancel_url,
               "person": person, "candidate_fields": forms.CANDIDATE_FIELDS,
               "candidate_rows": forms.CANDIDATE_ROWS, "today": _today(), **extra}
    html = await datasette.render_template("shequ_form.html", context, request=request)
    return Response.html(html, status=status)


def _today():
    import datetime
    return datetime.date.today().isoformat()


async def form_page(request, datasette):
    _require_writer(request)
    form = forms.FORMS.get(request.url_vars["form"])
    if form is None:
        raise NotFound("没有这个表单")
    db = datasette.get_database(web.staff_db(datasette))
    edit_id = _row_id(request.args.get("id")) if form.name == "person" else None
    if request.method == "POST":
        return await _submit(request, datasette, form, db)
    values, extra = {"person_id": request.args.get("person")}, {}
    if edit_id:
        current, version = await db.execute_fn(lambda conn: forms.person_version(conn, edit_id))
        if current is None:
            raise NotFound("没有这位居民")
        values.update(current)
        extra = {"edit_id": edit_id, "version": version, "original": json.dumps(current, ensure_ascii=False)}
    return await _render(datasette, request, form, values, **extra)


async def _submit(request, datasette, form, db):
    posted = await request.form()
    values = {f.header: (posted.getlist(f.header) if f.widget == "categories" else posted.get(f.header))
              for f in form.fields if f.widget != "person"}
    values["person_id"] = posted.get("person_id") or None
    candidates = [{f.header: posted.get(f"c{i}-{f.header}") for f in forms.CANDIDATE_FIELDS}
                  for i in range(forms.CANDIDATE_ROWS)] if form.name == "election" else []
    edit_id = _row_id(posted.get("edit_id"))
    try:
        original = json.loads(posted.get("original") or "{}")
    except ValueError:
        original = {}
    if not isinstance(original, dict):
        original = {}

    def write(conn):
        return forms.submit(conn, form.name, values, candidates,
                            edit_id=edit_id,
                            version=posted.get("version"), original=original)
    try:
        row_id = await db.execute_write_fn(write, request=request)
    except forms.FormErrors as e:
        extra = {"edit_id": edit_id, "version": posted.get("version"),
                 "original": posted.get("original")} if edit_id else {}
        return await _render(datasette, request, form, {**values, "candidates": candidates},
                             e.errors, status=400, **extra)
    except forms.Conflict as e:
        current, version = await db.execute_fn(lambda conn: forms.person_version(conn, edit_id))
        return await _render(
            datasette, request, form, current, status=409, conflict=e.changes, edit_id=edit_id,
            version=version, original=json.dumps(current, ensure_ascii=False), mine=values)
    database = web.staff_db(datasette)
    datasette.add_message(request, f"已保存：{form.title}")
    if form.person_role:  # back to the resident, whose page lists payments and visits
        return Response.redirect(f"/{database}/persons/{values['person_id']}")
    return Response.redirect(f"/{database}/{form.table}/{row_id}")


async def person_search(request, datasette):
    _require_writer(request)
    db = datasette.get_database(web.staff_db(datasette))
    q = request.args.get("q", "")
    rows = await db.execute_fn(lambda conn: forms.search_persons(conn, q))
    return Response.json({"ok": True, "rows": rows})


@hookimpl
def register_routes():
    return [(r"^/-/shequ/form/(?P<form>[a-z]+)$", form_page),
            (r"^/-/shequ/persons\.json$", person_search)]


@hookimpl
def menu_links(datasette, actor):
    if not web.can_write(actor):
        return []
    return [{"href": f"/-/shequ/form/{name}", "label": label} for name, label in MENU]


@hookimpl
def table_actions(datasette, actor, database, table):
    if database == web.staff_db(datasette) and web.can_write(actor) and table in TABLE_FORMS:
        name = TABLE_FORMS[table]
        return [{"href": f"/-/shequ/form/{name}", "label": forms.FORMS[name].title,
                 "description": "用中文表单录入，校验与台账导入相同"}]
    return []


@hookimpl
def row_actions(datasette, actor, database, table, row):
    if database != web.staff_db(datasette) or not web.can_write(actor) or table != "persons":
        return []
    links = [{"href": f"/-/shequ/form/{name}?person={row['id']}", "label": label}
             for name, label in ROW_FORMS["persons"]]
    links.append({"href": f"/-/shequ/form/person?id={row['id']}", "label": "修改居民"})
    return links


@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    """On a resident's row page: that person's payments and visits."""
    if view_name != "row" or table != "persons" or request is None:
        return None
    if database != web.staff_db(datasette):
        return None

    async def ledger():
        person_id = request.url_vars.get("pks")
        db = datasette.get_database(database)
        pays = await db.execute(
            "SELECT d.id, d.paid_on, p.name AS program, p.category, d.method, d.goods, d.amount_yuan"
            " FROM disbursements d JOIN programs p ON p.id = d.program_id WHERE d.person_id = ?"
            " ORDER BY d.paid_on DESC, d.id DESC LIMIT 100", [person_id])
        visits = await db.execute(
            "SELECT id, visited_on, visitors, purpose FROM visits WHERE person_id = ?"
            " ORDER BY visited_on DESC, id DESC LIMIT 100", [person_id])
        return {"person_payments": [dict(r) for r in pays.rows],
                "person_visits": [dict(r) for r in visits.rows]}
    return ledger
