"""Every stored query of summaries.md, over HTTP as staff, equals the figures computed
independently in Python from the sample ledger files (tests/independent.py)."""
from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from ingest import ROOT

from . import independent
from .conftest import SAMPLE_DIR

SPEC_COLUMNS = {
    "relief_by_category": ["category", "payments", "recipients", "total_yuan"],
    "relief_by_program": ["program", "category", "payments", "recipients", "total_yuan"],
    "relief_by_month": ["month", "category", "payments", "total_yuan"],
    "relief_by_community": ["community", "payments", "recipients", "total_yuan"],
    "coverage": ["group_name", "registered", "visited", "assisted", "visit_rate", "assist_rate"],
    "election_turnout": ["community", "term", "election_date", "method", "registered_voters",
                         "ballots_cast", "turnout", "valid", "seats", "elected"],
    "committee_composition": ["dimension", "bucket", "members", "share"],
}
SPEC_PARAMS = {
    "relief_by_category": ["year", "community"], "relief_by_program": ["year", "community"],
    "relief_by_month": ["year", "community"], "relief_by_community": ["year"],
    "coverage": ["year", "community"], "election_turnout": ["term", "community"],
    "committee_composition": ["term", "community"],
}
RELIEF_PARAMS = [{"year": "2012", "community": ""}, {"year": "2012", "community": "跃华社区"},
                 {"year": "", "community": ""}, {"year": "2011", "community": ""},
                 {"year": "2012", "community": "无此社区"}]
ELECTION_PARAMS = [{"term": "8", "community": ""}, {"term": "", "community": ""},
                   {"term": "8", "community": "九里山社区"}, {"term": "7", "community": ""}]
CASES = (
    [(name, p) for name in ("relief_by_category", "relief_by_program", "relief_by_month",
                            "coverage") for p in RELIEF_PARAMS]
    + [("relief_by_community", {"year": p["year"]}) for p in RELIEF_PARAMS[::2]]
    + [(name, p) for name in ("election_turnout", "committee_composition") for p in ELECTION_PARAMS]
)


def _comparable(rows):
    """API floats for money become Decimals with 2 places; everything else as is."""
    out = []
    for row in rows:
        out.append({k: Decimal(str(v)).quantize(Decimal("0.01")) if k == "total_yuan" else v
                    for k, v in row.items()})
    return out


async def _query(ds, cookies, name, params):
    response = await ds.client.get(f"/community/{name}.json", params={**params, "_shape": "array"},
                                   cookies=cookies["staff"])
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("name,params", CASES, ids=lambda x: str(x))
async def test_summary_equals_independent_computation(ds, cookies, name, params):
    rows = await _query(ds, cookies, name, params)
    expected = getattr(independent, name)(SAMPLE_DIR, **params)
    assert _comparable(rows) == expected
    if rows:
        assert list(rows[0]) == SPEC_COLUMNS[name]


def test_stored_queries_match_the_contract():
    queries = yaml.safe_load((ROOT / "datasette.yaml").read_text())["databases"]["community"]["queries"]
    summaries = {name: q for name, q in queries.items() if not q.get("write")}
    assert set(summaries) == set(SPEC_COLUMNS)
    for name, query in summaries.items():
        assert query["params"] == SPEC_PARAMS[name]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in query["title"])
        assert any("\u4e00" <= ch <= "\u9fff" for ch in query["description"])


async def test_relief_2012_shows_condolence_total(ds, cookies):
    """The issue's headline figure: 慰问 18,940.00 in 2012, as JSON and on the page."""
    response = await ds.client.get("/community/relief_by_category.json?year=2012",
                                   cookies=cookies["viewer"])
    rows = {r["category"]: r for r in response.json()["rows"]}
    assert rows["慰问"]["total_yuan"] == 18940.00
    page = await ds.client.get("/community/relief_by_category?year=2012", cookies=cookies["viewer"])
    assert "18,940.00" in page.text
    assert "年份（如 2012，留空为全部）" in page.text and "查询条件" in page.text


async def test_committee_composition_is_report_10(ds, cookies):
    rows = await _query(ds, cookies, "committee_composition", {"term": "8", "community": ""})
    table = {(r["dimension"], r["bucket"]): (r["members"], r["share"]) for r in rows}
    assert table == {
        ("政治面貌", "党员"): (28, 0.2593), ("政治面貌", "非党员"): (80, 0.7407),
        ("年龄", "30岁及以下"): (6, 0.0556), ("年龄", "31-39岁"): (12, 0.1111),
        ("年龄", "40-49岁"): (28, 0.2593), ("年龄", "50-59岁"): (42, 0.3889),
        ("年龄", "60岁及以上"): (20, 0.1852),
        ("文化程度", "大专及以上"): (12, 0.1111), ("文化程度", "高中"): (44, 0.4074),
        ("文化程度", "初中及以下"): (52, 0.4815),
        ("性别", "男"): (63, 0.5833), ("性别", "女"): (45, 0.4167),
    }


async def test_coverage_disabled_visit_rate_is_one(ds, cookies):
    rows = await _query(ds, cookies, "coverage", {"year": "2012", "community": ""})
    by_group = {r["group_name"]: r for r in rows}
    assert list(by_group) == ["低保", "特困", "残疾", "高龄", "军烈属", "空巢老人"]
    assert by_group["残疾"]["registered"] == 56 and by_group["残疾"]["visit_rate"] == 1.0


async def test_all_26_elections_valid(ds, cookies):
    rows = await _query(ds, cookies, "election_turnout", {"term": "8", "community": ""})
    assert len(rows) == 26 and all(r["valid"] == 1 for r in rows)
    assert sum(r["elected"] for r in rows) == 108


def test_money_is_exact_over_many_rows(tmp_path):
    """A sum over a million fen-exact amounts equals the decimal sum (no float drift).

    Run on the disbursements table exactly as the first migration creates it (the audit
    triggers of later migrations would only slow the million inserts down)."""
    from ingest import schema
    db = schema.connect(tmp_path / "money.db")
    schema.m001_initial(db)
    db.execute("INSERT INTO communities (id, name) VALUES (1, '测试社区')")
    db.execute("INSERT INTO persons (id, id_number, name, community_id) VALUES (1, 'x', '测试', 1)")
    amounts = [Decimal(f"{(i * 7919) % 100000}.{i % 100:02d}") for i in range(1_000_000)]
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO disbursements (paid_on, community_id, person_id, program_id, amount_yuan)"
            " VALUES ('2031-01-01', 1, 1, 1, ?)", ((float(a),) for a in amounts))
    total_fen, total_yuan = db.execute(
        "SELECT sum(amount_fen), round(sum(amount_fen) / 100.0, 2) FROM disbursements").fetchone()
    assert Decimal(total_fen) / 100 == sum(amounts)
    assert Decimal(str(total_yuan)) == sum(amounts)
