"""The year-end report (年度工作报告): a printable page per community and year, and the
same report as a Word document. Thin routes over ingest.yearreport (figures and prose).

Any logged-in role of the staff database may read it; anonymous visitors get 403. The
URL guard only covers /community…, so the check is made here.
"""
from __future__ import annotations

import datetime
import io
from urllib.parse import quote, urlencode

from datasette import hookimpl
from datasette.utils.asgi import BadRequest, Forbidden, NotFound, Response

from ingest import web, yearreport

READ_ROLES = ("admin", "staff", "viewer")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _require_reader(request):
    if web.role(request.actor) not in READ_ROLES:
        raise Forbidden("请先登录" if request.actor is None else "没有权限查看年度工作报告")


def _choices(conn):
    communities = [r[0] for r in conn.execute(
        "SELECT c.name FROM communities c ORDER BY"
        " (SELECT count(*) FROM persons p WHERE p.community_id = c.id) DESC, c.name")]
    years = sorted({r[0] for r in conn.execute(
        "SELECT substr(paid_on, 1, 4) FROM disbursements UNION SELECT substr(visited_on, 1, 4) FROM visits"
        " UNION SELECT substr(held_on, 1, 4) FROM elections UNION SELECT substr(died_on, 1, 4) FROM deaths"
        " UNION SELECT substr(start_month, 1, 4) FROM dibao_enrolments") if r[0]}, reverse=True)
    latest = conn.execute("SELECT max(substr(paid_on, 1, 4)) FROM disbursements").fetchone()[0]
    return communities, years, latest


async def _report(request, datasette):
    """(figures, choices) for the request's community and year; 400/404 on bad input."""
    _require_reader(request)
    db = datasette.get_database(web.staff_db(datasette))
    communities, years, latest = await db.execute_fn(_choices)
    if "community" in request.args:
        community = request.args.get("community", "").strip()
    else:
        community = communities[0] if communities else ""
    year = (request.args.get("year") or latest or str(datetime.date.today().year)).strip()
    if not yearreport.YEAR_RE.match(year):
        raise BadRequest("年份应为四位数字，如 2012")
    if community and community not in communities:
        raise NotFound(f"没有这个社区：{community}")
    figs = await db.execute_fn(lambda conn: yearreport.figures(conn, community, year))
    if year not in years:
        years = sorted({*years, year}, reverse=True)
    return figs, communities, years


async def report_page(request, datasette):
    figs, communities, years = await _report(request, datasette)
    query = urlencode({"community": figs["community"], "year": figs["year"]})
    context = {
        "title": yearreport.title(figs), "figs": figs,
        "sections": yearreport.paragraphs(figs),
        "committee": yearreport.committee_table(figs),
        "election_heading": yearreport.ELECTION_HEADING,
        "communities": communities, "years": years,
        "docx_url": f"/-/shequ/report.docx?{query}",
        "generated": datetime.date.today().isoformat(),
    }
    html = await datasette.render_template("shequ_report.html", context, request=request)
    return Response.html(html)


def build_docx(figs) -> bytes:
    """The report as a Word document: title, numbered headings, prose, the committee table."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    for style_name in ("Normal", "Title", "Heading 1", "Heading 2"):
        style = doc.styles[style_name]
        style.font.name = "SimSun" if style_name == "Normal" else "SimHei"
        style.element.get_or_add_rPr().get_or_add_rFonts().set(
            qn("w:eastAsia"), "宋体" if style_name == "Normal" else "黑体")
    doc.styles["Normal"].font.size = Pt(12)
    heading = doc.add_heading(yearreport.title(figs), level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    committee = yearreport.committee_table(figs)
    for section, lines in yearreport.paragraphs(figs):
        doc.add_heading(section, level=1)
        for line in lines:
            doc.add_paragraph(line)
        if committee and yearreport.is_election_heading(section):
            header, rows = committee
            doc.add_paragraph("居委会成员结构")
            table = doc.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, header):
                cell.text = text
            for row in rows:
                for cell, text in zip(table.add_row().cells, row):
                    cell.text = text
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def content_disposition(filename: str) -> str:
    """attachment with an ASCII fallback and the UTF-8 name (RFC 6266 / 5987)."""
    return f"attachment; filename=\"report.docx\"; filename*=UTF-8''{quote(filename)}"


async def report_docx(request, datasette):
    figs, _, _ = await _report(request, datasette)
    body = build_docx(figs)
    return Response(body, content_type=DOCX_TYPE, headers={
        "content-disposition": content_disposition(f"{yearreport.title(figs)}.docx"),
        "cache-control": "private, no-store",
    })


@hookimpl
def register_routes():
    return [(r"^/-/shequ/report$", report_page),
            (r"^/-/shequ/report\.docx$", report_docx)]


@hookimpl
def menu_links(datasette, actor):
    if web.role(actor) not in READ_ROLES:
        return []
    return [{"href": "/-/shequ/report", "label": "年度工作报告"}]
