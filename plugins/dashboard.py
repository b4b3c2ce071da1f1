"""数据概览: five ECharts charts per year and community, for staff on the staff database
and for everyone on the public one. The page only carries configuration (data-
attributes); the browser fetches each chart's numbers from the stored query's JSON
endpoint, so a chart shows exactly what the API returns (suppressed cells included)."""
from __future__ import annotations

from urllib.parse import urlencode

from datasette import hookimpl
from datasette.resources import DatabaseResource, QueryResource
from datasette.utils.asgi import BadRequest, Forbidden, NotFound, Response

from ingest import web

PUBLIC_DB = "public"
READ_ROLES = ("admin", "staff", "viewer")
ECHARTS_VERSION = "6.1.0"  # static/echarts/README.md

# (stored query, parameters it takes, title, note under the title)
CHARTS = [
    ("relief_by_month", "year", "各月救助发放金额（按类别堆叠）",
     "每月各类别的发放金额，单位元；表格另列笔数。"),
    ("relief_by_program", "year", "各项目救助发放金额",
     "每个项目的发放金额；表格另列笔数和受助人数。未记录金额的实物发放只计笔数。"),
    ("coverage", "year", "重点人群走访与救助覆盖率",
     "六类重点人群中当年被走访、得到救助的人所占比例；表格列出人数。"),
    ("election_turnout", "term", "居委会选举投票率",
     "每次选举的投票率。直接选举、户代表选举须过半数选民投票，居民代表选举须超过三分之二，选举才有效。"),
    ("committee_composition", "term", "居委会成员结构",
     "当选成员按政治面貌、年龄、文化程度、性别分组的人数。"),
]
NO_YEAR = "选举按届次统计，不受年份筛选影响：这里列出所选社区的历届选举。"


def _page_title(database):
    return "公开数据概览" if database == PUBLIC_DB else "数据概览"


def _staff_ready(datasette):
    try:
        return web.staff_db(datasette) in datasette.databases
    except (KeyError, IndexError):
        return False


async def _options(db, database, staff):
    """Years and communities offered by the selectors, from the data itself."""
    if database == staff:
        years_sql = ("select distinct substr(paid_on, 1, 4) as y from disbursements where paid_on is not null"
                     " union select distinct substr(visited_on, 1, 4) from visits where visited_on is not null"
                     " order by y")
    else:
        years_sql = "select distinct year from relief_by_category_data where year != '' order by year"
    years = [r[0] for r in (await db.execute(years_sql)).rows if r[0]]
    communities = [r[0] for r in (await db.execute(
        "select name from communities where name is not null order by name")).rows]
    return years, communities


def _json_url(database, query, params):
    return f"/{database}/{query}.json?" + urlencode({"_shape": "array", **params})


def _html_url(database, query, params):
    return f"/{database}/{query}?" + urlencode(params)


async def dashboard(request, datasette):
    database = request.url_vars["database"]
    staff = web.staff_db(datasette)
    if database not in (staff, PUBLIC_DB) or database not in datasette.databases:
        raise NotFound("没有这个数据库的数据概览")
    actor = request.actor
    if database == staff and web.role(actor) not in READ_ROLES:
        if actor is None:
            target = request.path + (f"?{request.query_string}" if request.query_string else "")
            return Response.redirect("/-/login?" + urlencode({"next": target}))
        raise Forbidden("没有权限查看工作库的数据概览")
    if not await datasette.allowed(action="view-database", resource=DatabaseResource(database),
                                   actor=actor):
        raise Forbidden("没有权限查看这个数据库")

    db = datasette.get_database(database)
    years, communities = await _options(db, database, staff)
    year = request.args.get("year", years[-1] if years else "")
    community = request.args.get("community", "")
    if year and year not in years:
        raise BadRequest(f"没有 {year} 年的数据，可选年份：{'、'.join(years) or '无'}")
    if community and community not in communities:
        raise BadRequest(f"没有“{community}”这个社区")

    charts = []
    for query, scope, title, note in CHARTS:
        if not await datasette.allowed(action="view-query", resource=QueryResource(database, query),
                                       actor=actor):
            continue
        params = {"year": year, "community": community} if scope == "year" \
            else {"term": "", "community": community}
        where = ("" if scope == "term" else (f"{year}年 · " if year else "全部年份 · ")) \
            + (community or "全部社区") + ("（历届选举）" if scope == "term" else "")
        charts.append({"query": query, "title": title, "note": note, "scope": where,
                       "filename": f"{title}_{where}.png".replace(" · ", "_"),
                       "scope_note": NO_YEAR if scope == "term" else "",
                       "json_url": _json_url(database, query, params),
                       "html_url": _html_url(database, query, params)})
    context = {
        "database": database, "is_public": database == PUBLIC_DB, "page_title": _page_title(database),
        "db_title": (await datasette.get_database_metadata(database)).get("title") or database,
        "years": years, "communities": communities, "year": year, "community": community,
        "charts": charts, "echarts_version": ECHARTS_VERSION,
    }
    html = await datasette.render_template("shequ_dashboard.html", context, request=request)
    return Response.html(html)


@hookimpl
def register_routes():
    return [(r"^/-/shequ/dashboard/(?P<database>[A-Za-z0-9_-]+)$", dashboard)]


def _links(datasette, actor):
    links = []
    if _staff_ready(datasette) and web.role(actor) in READ_ROLES:
        links.append({"href": f"/-/shequ/dashboard/{web.staff_db(datasette)}", "label": "数据概览",
                      "description": "救助发放、重点人群覆盖、选举投票率和居委会成员结构的图表"})
    if PUBLIC_DB in datasette.databases:
        links.append({"href": f"/-/shequ/dashboard/{PUBLIC_DB}", "label": "公开数据概览",
                      "description": "公开数据（已脱敏）的图表，人数过少的格子已隐藏"})
    return links


@hookimpl
def menu_links(datasette, actor):
    return [{"href": link["href"], "label": link["label"]} for link in _links(datasette, actor)]


@hookimpl
def database_actions(datasette, actor, database):
    return [link for link in _links(datasette, actor)
            if link["href"].endswith(f"/{database}")]
