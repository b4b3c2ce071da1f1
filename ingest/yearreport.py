"""The year-end report (年度工作报告) of one community, or of all communities, for one year.

Pure: `figures(conn, community, year)` reads the staff tables through a sqlite3
connection and returns every number of the report; `paragraphs(figs)` writes them as
Chinese prose in the style of the seed reports (篇1 for the community work, 篇10 for the
committee elections); `committee_table(figs)` gives the composition table. Nothing here
writes to the database or knows about Datasette.

Money is summed as integer fen (`amount_fen`, `monthly_fen`) and returned as `Decimal`
yuan with two places, so totals are exact. Rates are floats 0–1 rounded to 4 places
(the coverage figures are the `coverage` stored query's own rows).

`community=''` means all communities (the district-level report).
"""
from __future__ import annotations

import re
import sqlite3
from collections import OrderedDict
from decimal import Decimal

from . import app

CENT = Decimal("0.01")
NAMES_MAX = 5  # name the recipients of a batch when there are at most this many
MILITARY = ("军属", "烈属", "现役军人")
COMBINED_RELIEF = ("大病医疗救助", "临时救助")  # reported together, as in 篇1
ELECTION_HEADING = "居委会换届选举"
CATEGORY_ORDER = ("慰问", "救助", "补贴", "双拥")
DIMENSIONS = (
    ("政治面貌", ("党员", "非党员")),
    ("年龄", ("30岁及以下", "31-39岁", "40-49岁", "50-59岁", "60岁及以上")),
    ("文化程度", ("大专及以上", "高中", "初中及以下")),
    ("性别", ("男", "女")),
)
YEAR_RE = re.compile(r"^\d{4}$")


# ------------------------------------------------------------------ formatting
def yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else (Decimal(int(fen)) / 100).quantize(CENT)


def money(value) -> str:
    """18940 / Decimal('18940.00') → '18,940.00元'."""
    return f"{Decimal(value).quantize(CENT):,}元"


def pct(rate: float) -> str:
    """0.2593 → '25.9%'; 1.0 → '100%'."""
    text = f"{rate * 100:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def cn_date(iso: str, with_year: bool = True) -> str:
    y, m, d = (int(x) for x in iso[:10].split("-"))
    return f"{y}年{m}月{d}日" if with_year else f"{m}月{d}日"


def cn_dates(dates: list[str]) -> str:
    """Sorted ISO dates as prose: '2012年3月28日、6月27日、9月26日'; three or more dates
    one a month in consecutive months: '2012年8月至11月每月（8月6日、…）'."""
    dates = sorted(set(dates))
    if not dates:
        return ""
    out, year = [], None
    for d in dates:
        out.append(cn_date(d, with_year=d[:4] != year))
        year = d[:4]
    months = [(int(d[:4]), int(d[5:7])) for d in dates]
    consecutive = all((b[0] * 12 + b[1]) - (a[0] * 12 + a[1]) == 1
                      for a, b in zip(months, months[1:]))
    if len(dates) >= 3 and consecutive:
        first, last = months[0], months[-1]
        span = (f"{first[0]}年{first[1]}月至{last[1]}月" if first[0] == last[0]
                else f"{first[0]}年{first[1]}月至{last[0]}年{last[1]}月")
        return f"{span}每月（{'、'.join(cn_date(d, with_year=False) for d in dates)}）"
    return "、".join(out)


def title(figs: dict) -> str:
    return f"{figs['community_label']}{figs['year']}年民政工作报告"


# ------------------------------------------------------------------ SQL helpers
def _rows(conn: sqlite3.Connection, sql: str, params=()) -> list[dict]:
    cur = conn.execute(sql, params)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _stored_sql(name: str) -> str:
    return app.load_yaml("datasette.yaml")["databases"]["community"]["queries"][name]["sql"]


COMMUNITY_FILTER = "(:community = '' OR {col} = (SELECT id FROM communities WHERE name = :community))"

PAYMENTS_SQL = f"""
SELECT d.id, d.paid_on, pr.name AS program, pr.category, d.method, d.goods, d.amount_fen,
       d.note, p.id AS person_id, p.name AS person,
       coalesce('h' || p.household_id, 'p' || p.id) AS household,
       (SELECT group_concat(pc.category, '、') FROM
          (SELECT category FROM person_categories WHERE person_id = p.id ORDER BY category) pc
       ) AS categories
FROM disbursements d
JOIN programs pr ON pr.id = d.program_id
JOIN persons p ON p.id = d.person_id
WHERE d.paid_on BETWEEN :year || '-01-01' AND :year || '-12-31'
  AND {COMMUNITY_FILTER.format(col='d.community_id')}
ORDER BY d.paid_on, d.id
"""

PROGRAM_TOTALS_SQL = f"""
SELECT pr.name AS program, pr.category AS category, count(*) AS payments,
       count(DISTINCT d.person_id) AS persons,
       count(DISTINCT coalesce('h' || p.household_id, 'p' || p.id)) AS households,
       count(DISTINCT substr(d.paid_on, 1, 7)) AS months,
       count(d.amount_fen) AS priced, sum(d.amount_fen) AS total_fen,
       min(d.paid_on) AS first_date
FROM disbursements d
JOIN programs pr ON pr.id = d.program_id
JOIN persons p ON p.id = d.person_id
WHERE d.paid_on BETWEEN :year || '-01-01' AND :year || '-12-31'
  AND {COMMUNITY_FILTER.format(col='d.community_id')}
GROUP BY pr.id
ORDER BY min(d.paid_on), pr.name
"""

CATEGORY_TOTALS_SQL = f"""
SELECT pr.category AS category, count(*) AS payments, count(DISTINCT d.person_id) AS persons,
       coalesce(sum(d.amount_fen), 0) AS total_fen
FROM disbursements d
JOIN programs pr ON pr.id = d.program_id
WHERE d.paid_on BETWEEN :year || '-01-01' AND :year || '-12-31'
  AND {COMMUNITY_FILTER.format(col='d.community_id')}
GROUP BY pr.category
"""

DIBAO_SQL = f"""
SELECT e.id, e.household_id, e.persons_covered, e.monthly_fen, e.start_month, e.end_month,
       e.status, e.note, p.name AS head
FROM dibao_enrolments e JOIN persons p ON p.id = e.head_person_id
WHERE {COMMUNITY_FILTER.format(col='e.community_id')}
ORDER BY e.household_id, e.start_month
"""

MILITARY_SQL = f"""
SELECT pc.category, count(DISTINCT p.id) AS persons
FROM persons p JOIN person_categories pc ON pc.person_id = p.id
WHERE pc.category IN ('军属', '烈属', '现役军人')
  AND {COMMUNITY_FILTER.format(col='p.community_id')}
  AND NOT EXISTS (SELECT 1 FROM deaths x WHERE x.person_id = p.id AND x.died_on < :year || '-01-01')
GROUP BY pc.category
"""

DEATHS_SQL = f"""
SELECT count(*) AS deaths, coalesce(sum(x.cremated), 0) AS cremated
FROM deaths x
WHERE x.died_on BETWEEN :year || '-01-01' AND :year || '-12-31'
  AND {COMMUNITY_FILTER.format(col='x.community_id')}
"""

VISITS_SQL = f"""
SELECT count(*) AS visits, count(DISTINCT v.person_id) AS persons
FROM visits v
WHERE v.visited_on BETWEEN :year || '-01-01' AND :year || '-12-31'
  AND {COMMUNITY_FILTER.format(col='v.community_id')}
"""

ELECTIONS_SQL = f"""
SELECT c.name AS community, e.term, e.held_on, e.method, e.registered_voters, e.ballots_cast,
       e.seats,
       CASE WHEN e.method = '居民代表选举' THEN e.ballots_cast * 3 > e.registered_voters * 2
            ELSE e.ballots_cast * 2 > e.registered_voters END AS valid,
       (SELECT count(*) FROM candidates k WHERE k.election_id = e.id AND k.elected = 1) AS elected,
       (SELECT coalesce(max(k.round), 1) FROM candidates k
         WHERE k.election_id = e.id AND k.elected = 1) AS rounds
FROM elections e JOIN communities c ON c.id = e.community_id
WHERE e.held_on BETWEEN :year || '-01-01' AND :year || '-12-31'
  AND {COMMUNITY_FILTER.format(col='e.community_id')}
ORDER BY c.name, e.term
"""

# The stored query committee_composition, selecting the elections by year, not term.
COMPOSITION_SQL = f"""
WITH members AS (
  SELECT k.party, k.education, k.gender,
         cast(strftime('%Y', e.held_on) AS integer) - cast(strftime('%Y', k.birth_date) AS integer)
           - (strftime('%m-%d', e.held_on) < strftime('%m-%d', k.birth_date)) AS age
  FROM candidates k JOIN elections e ON e.id = k.election_id
  WHERE k.elected = 1
    AND e.held_on BETWEEN :year || '-01-01' AND :year || '-12-31'
    AND {COMMUNITY_FILTER.format(col='e.community_id')}
),
tagged(dimension, bucket) AS (
  SELECT '政治面貌', CASE WHEN party IN ('中共党员', '中共预备党员') THEN '党员' ELSE '非党员' END FROM members
  UNION ALL
  SELECT '年龄', CASE WHEN age <= 30 THEN '30岁及以下' WHEN age <= 39 THEN '31-39岁'
                      WHEN age <= 49 THEN '40-49岁' WHEN age <= 59 THEN '50-59岁'
                      ELSE '60岁及以上' END FROM members
  UNION ALL
  SELECT '文化程度', CASE WHEN education IN ('研究生', '大学本科', '大专') THEN '大专及以上'
                         WHEN education IN ('高中', '中专') THEN '高中'
                         ELSE '初中及以下' END FROM members
  UNION ALL
  SELECT '性别', gender FROM members
)
SELECT dimension, bucket, count(*) AS members, (SELECT count(*) FROM members) AS total
FROM tagged GROUP BY dimension, bucket
"""


# ------------------------------------------------------------------ figures
def _check_year(year) -> str:
    year = str(year).strip()
    if not YEAR_RE.match(year):
        raise ValueError(f"年份应为四位数字：{year!r}")
    return year


def _amounts(rows: list[dict]) -> dict:
    priced = [r["amount_fen"] for r in rows if r["amount_fen"] is not None]
    return {"priced": len(priced), "unpriced": len(rows) - len(priced),
            "total_fen": sum(priced) if priced else None,
            "amounts_fen": sorted(set(priced))}


def _batch(rows: list[dict]) -> dict:
    """One programme's payments sharing method and goods: dates, persons, amounts."""
    persons = OrderedDict()
    for r in rows:
        persons.setdefault(r["person_id"], {"name": r["person"], "categories": r["categories"],
                                            "amounts_fen": [], "dates": []})
        persons[r["person_id"]]["amounts_fen"].append(r["amount_fen"])
        persons[r["person_id"]]["dates"].append(r["paid_on"])
    amounts = _amounts(rows)
    return {
        "program": rows[0]["program"], "category": rows[0]["category"],
        "method": rows[0]["method"], "goods": rows[0]["goods"],
        "dates": sorted({r["paid_on"] for r in rows}),
        "payments": len(rows), "persons": len(persons),
        "households": len({r["household"] for r in rows}),
        "recipients": list(persons.values()),
        **amounts,
        "total": yuan(amounts["total_fen"]),
        "unit": yuan(amounts["amounts_fen"][0]) if len(amounts["amounts_fen"]) == 1 else None,
    }


def _batches(rows: list[dict]) -> list[dict]:
    groups = OrderedDict()
    for r in rows:
        groups.setdefault((r["program"], r["method"] or "", r["goods"] or ""), []).append(r)
    return sorted((_batch(g) for g in groups.values()), key=lambda b: (b["dates"][0], b["program"]))


def _programs(totals: list[dict], payments: list[dict], category: str) -> "OrderedDict[str, dict]":
    out = OrderedDict()
    for t in totals:
        if t["category"] != category:
            continue
        rows = [r for r in payments if r["program"] == t["program"]]
        out[t["program"]] = {
            "payments": t["payments"], "persons": t["persons"], "households": t["households"],
            "months": t["months"], "priced": t["priced"], "total_fen": t["total_fen"],
            "total": yuan(t["total_fen"]) if t["total_fen"] is not None else None,
            "batches": _batches(rows),
        }
    return out


def _section(category_totals: dict, totals, payments, category) -> dict:
    c = category_totals.get(category, {"payments": 0, "persons": 0, "total_fen": 0})
    return {"payments": c["payments"], "persons": c["persons"], "total_fen": c["total_fen"],
            "total": yuan(c["total_fen"]), "programs": _programs(totals, payments, category)}


def _combined_relief(payments: list[dict]) -> dict:
    """大病医疗救助 and 临时救助 as 篇1 reports them: the individual grants (one recipient of
    that programme on that day) by name, and the group grants apart."""
    rows = [r for r in payments if r["program"] in COMBINED_RELIEF]
    per_day = {}
    for r in rows:
        per_day.setdefault((r["program"], r["paid_on"]), []).append(r)
    named, others = [], []
    for (program, day), group in sorted(per_day.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if len(group) == 1:
            r = group[0]
            named.append({"name": r["person"], "program": program, "date": day,
                          "amount_fen": r["amount_fen"], "amount": yuan(r["amount_fen"])})
        else:
            others.append(_batch(group))
    named_fen = sum(n["amount_fen"] or 0 for n in named)
    total_fen = sum(r["amount_fen"] or 0 for r in rows)
    return {"programs": [p for p in COMBINED_RELIEF if any(r["program"] == p for r in rows)],
            "named": named, "named_total_fen": named_fen, "named_total": yuan(named_fen),
            "others": others, "total_fen": total_fen, "total": yuan(total_fen),
            "persons": len({r["person_id"] for r in rows})}


def _dibao(conn, community: str, year: str) -> dict:
    rows = _rows(conn, DIBAO_SQL, {"community": community})
    first, last = f"{year}-01", f"{year}-12"

    def open_in(month):
        return [r for r in rows if r["start_month"] <= month
                and (r["end_month"] is None or r["end_month"] >= month)]

    current = [r for r in rows if r["start_month"] <= last
               and (r["end_month"] is None or r["end_month"] > last)]
    at_start = open_in(first)
    stopped = [r for r in rows if r["status"] == "停保" and r["end_month"]
               and first <= r["end_month"] <= last]
    jiantui = []
    for r in (r for r in current if r["status"] == "渐退"):
        earlier = [e for e in rows if e["household_id"] == r["household_id"] and e is not r
                   and e["end_month"] and e["end_month"] < r["start_month"]]
        prev = max(earlier, key=lambda e: e["end_month"]) if earlier else None
        reduction = prev["monthly_fen"] - r["monthly_fen"] if prev else 0
        jiantui.append({"head": r["head"], "start_month": r["start_month"], "note": r["note"],
                        "before_fen": prev["monthly_fen"] if prev else None,
                        "after_fen": r["monthly_fen"], "reduction_fen": reduction})
    monthly_fen = sum(r["monthly_fen"] for r in current)
    reduction_fen = sum(j["reduction_fen"] for j in jiantui)
    return {
        "households": len({r["household_id"] for r in current}),
        "persons": sum(r["persons_covered"] for r in current),
        "monthly_fen": monthly_fen, "monthly": yuan(monthly_fen),
        "start_households": len({r["household_id"] for r in at_start}),
        "start_persons": sum(r["persons_covered"] for r in at_start),
        "stopped_households": len({r["household_id"] for r in stopped}),
        "stopped_persons": sum(r["persons_covered"] for r in stopped),
        "jiantui": len(jiantui), "jiantui_rows": jiantui,
        "reduction_fen": reduction_fen, "reduction": yuan(reduction_fen),
    }


def _military(conn, community, year, payments) -> dict:
    by_category = {r["category"]: r["persons"] for r in _rows(conn, MILITARY_SQL,
                                                            {"community": community, "year": year})}
    persons = conn.execute(
        "SELECT count(DISTINCT p.id) FROM persons p JOIN person_categories pc ON pc.person_id = p.id"
        " WHERE pc.category IN ('军属', '烈属', '现役军人') AND "
        + COMMUNITY_FILTER.format(col="p.community_id")
        + " AND NOT EXISTS (SELECT 1 FROM deaths x WHERE x.person_id = p.id"
          " AND x.died_on < :year || '-01-01')",
        {"community": community, "year": year}).fetchone()[0]

    def is_military(r):
        return bool(set((r["categories"] or "").split("、")) & set(MILITARY))

    own = [r for r in payments if is_military(r) and r["category"] != "双拥"]
    shuangyong = [r for r in payments if r["category"] == "双拥"]
    by_program = OrderedDict()
    for r in own:
        by_program.setdefault(r["program"], []).append(r)
    sy_fen = sum(r["amount_fen"] or 0 for r in shuangyong)
    return {
        "persons": persons,
        "by_category": {c: by_category[c] for c in MILITARY if c in by_category},
        "programs": [_batch(rows) for rows in by_program.values()],
        "shuangyong": [{"name": r["person"], "categories": r["categories"], "date": r["paid_on"],
                        "program": r["program"], "amount_fen": r["amount_fen"],
                        "amount": yuan(r["amount_fen"]), "note": r["note"]} for r in shuangyong],
        "shuangyong_total_fen": sy_fen, "shuangyong_total": yuan(sy_fen),
        "shuangyong_persons": len({r["person_id"] for r in shuangyong}),
    }


def _election(conn, community, year) -> dict | None:
    elections = _rows(conn, ELECTIONS_SQL, {"community": community, "year": year})
    if not elections:
        return None
    counts = {(r["dimension"], r["bucket"]): (r["members"], r["total"])
              for r in _rows(conn, COMPOSITION_SQL, {"community": community, "year": year})}
    members = sum(e["elected"] for e in elections)
    composition = []
    for dim, buckets in DIMENSIONS:
        for b in buckets:
            n = counts.get((dim, b), (0, 0))[0]
            composition.append({"dimension": dim, "bucket": b, "members": n,
                                "share": round(n / members, 4) if members else 0.0})
    for e in elections:
        e["valid"] = int(e["valid"])
        e["turnout"] = round(e["ballots_cast"] / e["registered_voters"], 4) if e["registered_voters"] else 0.0
    return {
        "elections": elections, "count": len(elections),
        "communities": len({e["community"] for e in elections}),
        "valid": sum(e["valid"] for e in elections),
        "first_round": sum(1 for e in elections if e["rounds"] == 1 and e["elected"] >= e["seats"]),
        "terms": sorted({e["term"] for e in elections}),
        "months": sorted({e["held_on"][:7] for e in elections}),
        "members": members, "composition": composition,
    }


def figures(conn: sqlite3.Connection, community: str, year) -> dict:
    """Every figure of the year-end report; community '' = all communities."""
    community = (community or "").strip()
    year = _check_year(year)
    if community and conn.execute("SELECT 1 FROM communities WHERE name = ?",
                                  [community]).fetchone() is None:
        raise LookupError(f"没有这个社区：{community}")
    params = {"community": community, "year": year}
    payments = _rows(conn, PAYMENTS_SQL, params)
    totals = _rows(conn, PROGRAM_TOTALS_SQL, params)
    category_totals = {r["category"]: r for r in _rows(conn, CATEGORY_TOTALS_SQL, params)}
    coverage = _rows(conn, _stored_sql("coverage"), params)
    deaths = _rows(conn, DEATHS_SQL, params)[0]
    visits = _rows(conn, VISITS_SQL, params)[0]
    other = sorted(c for c in category_totals if c not in CATEGORY_ORDER and c != "保障")
    return {
        "community": community,
        "community_label": community or "全部社区",
        "year": year,
        "condolence": _section(category_totals, totals, payments, "慰问"),
        "relief": {**_section(category_totals, totals, payments, "救助"),
                   "combined": _combined_relief(payments)},
        "subsidies": _section(category_totals, totals, payments, "补贴"),
        "other": {c: _section(category_totals, totals, payments, c) for c in other},
        "dibao": _dibao(conn, community, year),
        "visits": {"visits": visits["visits"], "persons": visits["persons"]},
        "coverage": coverage,
        "military": _military(conn, community, year, payments),
        "deaths": {"deaths": deaths["deaths"], "cremated": deaths["cremated"],
                   "cremation_rate": round(deaths["cremated"] / deaths["deaths"], 4)
                   if deaths["deaths"] else 0.0},
        "election": _election(conn, community, year),
    }


# ------------------------------------------------------------------ prose
NUMERALS = "一二三四五六七八九十"


def _numeral(i: int) -> str:
    return NUMERALS[i] if i < 10 else f"十{NUMERALS[i - 10]}"


def _who(b: dict, verb: str, households: bool = False) -> str:
    n = b["persons"]
    amounts = {tuple(p["amounts_fen"]) for p in b["recipients"]}
    if n <= NAMES_MAX and len(amounts) > 1 and all(len(p["amounts_fen"]) == 1 for p in b["recipients"]):
        # few recipients with different amounts: name each with the amount
        return verb + "、".join(f"{p['name']}{money(yuan(p['amounts_fen'][0]))}"
                                if p["amounts_fen"][0] is not None else p["name"]
                                for p in b["recipients"])
    if n <= NAMES_MAX:
        who = f"{'、'.join(p['name'] for p in b['recipients'])}{'共' if n > 1 else ''}"
    else:
        who = ""
    if households:
        if b["households"] != n:
            count = f"{b['households']}户{n}人"
        else:
            count = f"{n}户" if n <= NAMES_MAX else f"{n}人"
    else:
        count = f"{n}人"
    if not households and b["households"] != n:
        count += f"（{b['households']}户）"
    if b["payments"] > n:
        count += f"（共{b['payments']}人次）"
    return f"{verb}{who}{count}" if n > 1 or not who else f"{verb}{who}"


def _what(b: dict) -> list[str]:
    parts = []
    in_kind = b["goods"] or b["method"] == "实物"
    if b["goods"]:
        parts.append(f"送去{b['goods']}")
    elif b["method"]:
        parts.append({"现金": "发放现金", "转账": "转账发放", "购物券": "发放购物券"}.get(
            b["method"], f"以{b['method']}方式发放"))
    if b["method"] == "购物券" and b["goods"]:
        parts[-1] = f"发放购物券（领取{b['goods']}）"
    named_each = (b["persons"] <= NAMES_MAX and len({tuple(p["amounts_fen"]) for p in b["recipients"]}) > 1
                  and all(len(p["amounts_fen"]) == 1 for p in b["recipients"]))
    amounts = b["amounts_fen"]
    each = "每人每次" if b["payments"] > b["persons"] else "每人"
    worth = "折合" if in_kind and b["method"] != "购物券" else ""
    single = b["payments"] == 1
    if not amounts:
        parts.append("未记金额")
    elif single:
        parts.append(f"{worth}{money(b['total'])}")
        return parts
    elif not named_each:
        if len(amounts) == 1:
            parts.append(f"{each}{worth}{money(yuan(amounts[0]))}")
        elif len(amounts) == 2:
            parts.append(f"{each}{worth}{money(yuan(amounts[0]))}或{money(yuan(amounts[1]))}")
        else:
            parts.append(f"{each}{worth}{money(yuan(amounts[0]))}至{money(yuan(amounts[-1]))}")
    if amounts:
        total = f"共计{money(b['total'])}"
        if b["unpriced"]:
            total += f"（另有{b['unpriced']}笔未记金额）"
        parts.append(total)
    return parts


def _batch_sentence(b: dict, verb: str, label: str | None = None, households=False) -> str:
    label = b["program"] if label is None else label
    head = f"{label}：" if label else ""
    return head + "，".join([cn_dates(b["dates"]), _who(b, verb, households), *_what(b)]) + "。"


def _condolence(figs) -> list[str]:
    c = figs["condolence"]
    if not c["programs"]:
        return ["本年度没有慰问发放记录。"]
    batches = sorted((b for p in c["programs"].values() for b in p["batches"]),
                     key=lambda b: (b["dates"][0], b["program"]))
    out = [_batch_sentence(b, "慰问") for b in batches]
    for name, p in c["programs"].items():
        if len(p["batches"]) > 1:
            total = money(p["total"]) if p["total"] is not None else "未记金额"
            out.append(f"{name}全年共{len(p['batches'])}批，慰问{p['persons']}人，共计{total}。")
    unpriced = sum(b["unpriced"] for b in batches)
    note = f"，其中{unpriced}人次为实物、未记金额" if unpriced else ""
    out.append(f"全年慰问{c['payments']}人次{note}，慰问款共计{money(c['total'])}。")
    return out


def _relief(figs) -> list[str]:
    r = figs["relief"]
    if not r["programs"]:
        return ["本年度没有救助发放记录。"]
    out = []
    comb = r["combined"]
    if comb["programs"]:
        names = "、".join(comb["programs"])
        if comb["named"]:
            listed = "、".join(f"{n['name']}{money(n['amount'])}" for n in comb["named"]
                               if n["amount_fen"] is not None)
            out.append(f"为长期生病和生活遇到困难的居民家庭申请到{names}款{money(comb['named_total'])}，"
                       f"共{len(comb['named'])}人；其中{listed}。")
        for b in comb["others"]:
            out.append(f"另于{cn_dates(b['dates'])}，{_who(b, '向')}发放{b['program']}，"
                       + "，".join(_what(b)) + "。")
        if comb["others"]:
            out.append(f"{names}全年共计{money(comb['total'])}，受助{comb['persons']}人。")
    for name, p in r["programs"].items():
        if name in COMBINED_RELIEF:
            continue
        out.extend(_batch_sentence(b, "发放给") for b in p["batches"])
    out.append(f"全年救助{r['payments']}人次、{r['persons']}人，救助款共计{money(r['total'])}。")
    return out


def _subsidies(figs) -> list[str]:
    s = figs["subsidies"]
    if not s["programs"]:
        return ["本年度没有补贴发放记录。"]
    out = []
    for name, p in s["programs"].items():
        for b in p["batches"]:
            out.append(_batch_sentence(b, "发放给", households=True))
        if p["months"] > 1 and p["payments"] > p["persons"]:
            out.append(f"{name}共发放{p['months']}个月，{p['persons']}人。")
    out.append(f"全年补贴{s['payments']}人次，已记金额共计{money(s['total'])}。")
    return out


def _dibao_text(figs) -> list[str]:
    d = figs["dibao"]
    y = figs["year"]
    out = [f"截至{y}年末，在保低保户{d['households']}户、{d['persons']}人，"
           f"月保障金合计{money(d['monthly'])}/月。"]
    if d["start_households"] or d["stopped_households"]:
        out.append(f"{y}年1月在保{d['start_households']}户、{d['start_persons']}人；"
                   f"年内停保{d['stopped_households']}户、{d['stopped_persons']}人。")
    if d["jiantui"]:
        out.append(f"鼓励有就业能力的低保对象再就业，实行低保渐退：年末有{d['jiantui']}户低保对象"
                   f"实现再就业、处于渐退期，月保障金共减少{money(d['reduction'])}/月。")
    return out


def _coverage_text(figs) -> list[str]:
    v = figs["visits"]
    out = [f"全年走访{v['visits']}人次，走访{v['persons']}人。"]
    names = {"低保": "低保对象", "特困": "特困人员", "残疾": "残疾人", "高龄": "80岁以上老人",
             "军烈属": "军烈属", "空巢老人": "空巢老人"}
    for row in figs["coverage"]:
        label = names.get(row["group_name"], row["group_name"])
        if not row["registered"]:
            out.append(f"{label}：登记0人。")
            continue
        out.append(f"{label}{row['registered']}人，走访{row['visited']}人，走访率{pct(row['visit_rate'])}；"
                   f"受助{row['assisted']}人，受助率{pct(row['assist_rate'])}。")
    disabled = next((r for r in figs["coverage"] if r["group_name"] == "残疾"), None)
    if disabled and disabled["registered"] and disabled["visit_rate"] == 1.0:
        out.append("全年走访残疾人率达到100%。")
    return out


def _military_text(figs) -> list[str]:
    m = figs["military"]
    parts = "、".join(f"{c}{n}人" for c, n in m["by_category"].items())
    out = [f"登记军属、烈属（含现役军人）共{m['persons']}人" + (f"（{parts}）" if parts else "") + "。"]
    for b in m["programs"]:
        out.append(_batch_sentence(b, "慰问军烈属" if b["category"] == "慰问" else "发放给军烈属"))
    by_day = OrderedDict()
    for s in m["shuangyong"]:
        by_day.setdefault(s["date"], []).append(s)
    for day, items in by_day.items():
        def who(s):
            cats = "、".join(c for c in (s["categories"] or "").split("、")
                             if c in MILITARY or "军" in c)
            return f"{cats}{s['name']}"
        amounts = {s["amount_fen"] for s in items}
        if len(items) > 1 and len(amounts) == 1 and None not in amounts:
            out.append(f"{cn_date(day)}，双拥慰问{'、'.join(who(s) for s in items)}，"
                       f"每人{money(items[0]['amount'])}。")
        else:
            out.append(f"{cn_date(day)}，双拥慰问" + "、".join(
                who(s) + (money(s["amount"]) if s["amount"] is not None else "（未记金额）")
                for s in items) + "。")
    if m["shuangyong"]:
        out.append(f"双拥慰问全年共计{money(m['shuangyong_total'])}，{m['shuangyong_persons']}人。")
    return out


def _deaths_text(figs) -> list[str]:
    d = figs["deaths"]
    if not d["deaths"]:
        return [f"{figs['year']}年没有死亡登记。"]
    how = "并全部火化" if d["cremated"] == d["deaths"] else f"火化{d['cremated']}人"
    return [f"建立殡葬管理台帐、死亡人员台帐，{figs['year']}年全年共死亡{d['deaths']}人，{how}，"
            f"火化率{pct(d['cremation_rate'])}。"]


def _election_text(figs) -> list[str]:
    e = figs["election"]
    comp = {(r["dimension"], r["bucket"]): r for r in e["composition"]}

    def item(dim, bucket, label):
        r = comp[(dim, bucket)]
        return f"{label}{r['members']}人，占{pct(r['share'])}"

    months = "、".join(f"{int(m[5:])}月" for m in e["months"])
    terms = "、".join(f"第{t}届" for t in e["terms"])
    out = []
    if figs["community"]:
        el = e["elections"][0]
        out.append(f"{cn_date(el['held_on'])}进行{terms}社区居委会换届选举（{el['method']}），"
                   f"登记选民{el['registered_voters']}人，参加投票{el['ballots_cast']}人，"
                   f"投票率{pct(el['turnout'])}，选举{'有效' if el['valid'] else '无效'}。")
    else:
        success = "全部一次性选举成功" if e["first_round"] == e["count"] == e["valid"] else \
            f"其中{e['valid']}个选举有效"
        out.append(f"{figs['year']}年{months}，{e['communities']}个社区居委会完成{terms}换届选举，{success}。")
    out.append(f"共选出居委会成员{e['members']}人，其中{item('政治面貌', '党员', '党员')}。")
    out.append("年龄结构比例如下：" + "；".join(
        item("年龄", b, f"{b}的") for b in DIMENSIONS[1][1]) + "。")
    out.append("；".join([item("文化程度", "大专及以上", "大专及以上文化的"),
                         item("文化程度", "高中", "高中文化的"),
                         item("文化程度", "初中及以下", "初中及以下文化的")]) + "。")
    out.append(f"{item('性别', '女', '女性')}；{item('性别', '男', '男性')}。")
    return out


def paragraphs(figs: dict) -> list[tuple[str, list[str]]]:
    """The report as (heading, [sentences]) sections, headings numbered 一、二、…"""
    sections = [("走访慰问工作", _condolence(figs)),
                ("救助工作", _relief(figs)),
                ("补贴发放", _subsidies(figs)),
                ("最低生活保障", _dibao_text(figs)),
                ("重点人群走访与覆盖率", _coverage_text(figs)),
                ("双拥工作", _military_text(figs)),
                ("殡葬管理工作", _deaths_text(figs))]
    for category, s in figs["other"].items():
        lines = [_batch_sentence(b, "发放给") for p in s["programs"].values() for b in p["batches"]]
        lines.append(f"共计{money(s['total'])}。")
        sections.append((f"其他发放（{category}）", lines))
    if figs["election"]:
        sections.append((ELECTION_HEADING, _election_text(figs)))
    return [(f"{_numeral(i)}、{h}", lines) for i, (h, lines) in enumerate(sections)]


def committee_table(figs: dict) -> tuple[list[str], list[list[str]]] | None:
    """Report 10's composition table: header and rows (项目, 类别, 人数, 占比), or None."""
    e = figs["election"]
    if not e:
        return None
    rows = [["合计", "居委会成员", str(e["members"]), "100%" if e["members"] else "—"]]
    rows += [[r["dimension"], r["bucket"], str(r["members"]), pct(r["share"])]
             for r in e["composition"]]
    return ["项目", "类别", "人数", "占比"], rows


def is_election_heading(heading: str) -> bool:
    return heading.endswith(ELECTION_HEADING)
