"""Staff search: one box that finds residents, payments and visits (ingest/search.py).

`/-/shequ/search?q=…` (page) and `/-/shequ/search.json?q=…`. The URL guard covers only
/community…, so this route checks the actor itself: a group is searched only when the
actor may view its base table, and an actor who may view none of them (anonymous
included) gets 403.
"""
from __future__ import annotations

from datasette import hookimpl
from datasette.resources import TableResource
from datasette.utils.asgi import Forbidden, Response

from ingest import search, web

PAGE_LIMIT = 20       # rows per group on the overview
GROUP_LIMIT = 50      # rows per page when one group is opened (?table=…)


async def readable_tables(datasette, actor) -> list[str]:
    if actor is None:
        return []
    database = web.staff_db(datasette)
    return [g.table for g in search.GROUPS
            if await datasette.allowed(action="view-table",
                                       resource=TableResource(database, g.table), actor=actor)]


def _int(value, default, low, high):
    try:
        return min(max(int(value), low), high)
    except (TypeError, ValueError):
        return default


async def search_page(request, datasette):
    tables = await readable_tables(datasette, request.actor)
    if not tables:
        raise Forbidden("请先登录" if request.actor is None else "没有权限搜索")
    q = request.args.get("q", "")
    only = request.args.get("table")
    if only in tables:
        tables, limit = [only], GROUP_LIMIT
    else:
        only, limit = None, PAGE_LIMIT
    page = _int(request.args.get("page"), 1, 1, 1000) if only else 1
    database = web.staff_db(datasette)
    db = datasette.get_database(database)
    result = await db.execute_fn(lambda conn: search.search(
        conn, q, tables=tables, limit=limit, offset=(page - 1) * limit, database=database))
    result["searchable"] = search.match_expression(q) is not None
    if request.url_vars.get("format") == "json":
        return Response.json({"ok": True, **result}, headers={"Cache-Control": "no-store"})
    total = sum(g["count"] for g in result["groups"])
    html = await datasette.render_template("shequ_search.html", {
        **result, "raw_q": q, "only": only, "page": page, "limit": limit, "total": total,
        "capped": any(g["capped"] for g in result["groups"]),
        "database": database,
    }, request=request)
    return Response.html(html, headers={"Cache-Control": "no-store"})


@hookimpl
def register_routes():
    return [(r"^/-/shequ/search(\.(?P<format>json))?$", search_page)]


@hookimpl
def menu_links(datasette, actor):
    async def inner():
        if await readable_tables(datasette, actor):
            return [{"href": "/-/shequ/search", "label": "搜索"}]
        return []
    return inner
