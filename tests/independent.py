"""Independent re-computation of the summaries of shared/spec/summaries.md.

Straight from the sample CSV files with the ``csv`` module and plain Python: no sqlite,
no import of any project module. Tests compare the database's stored queries with these.

Every summary function takes ``sample_dir`` first, then its parameters as strings
(``''`` = all), and returns a list of dicts with exactly the column names of
summaries.md. Money is ``Decimal`` with 2 places (compare with an API float through
``Decimal(str(x))``); rates are ``float`` rounded with ``round(x, 4)``; counts are ``int``.

Row orders (the SQL side matches them):
- ``relief_by_category``: by ``category`` (code-point order = SQLite BINARY collation)
- ``relief_by_program``: by ``program``
- ``relief_by_month``: by (``month``, ``category``)
- ``relief_by_community``: by ``community``
- ``coverage``: fixed group order 低保, 特困, 残疾, 高龄, 军烈属, 空巢老人
- ``election_turnout``: by (``community``, ``term``)
- ``committee_composition``: dimensions 政治面貌, 年龄, 文化程度, 性别; buckets in the
  order of summaries.md (党员, 非党员 / 30岁及以下 … 60岁及以上 / 大专及以上, 高中,
  初中及以下 / 男, 女)

Conventions:
- a year is the calendar year of the date; ``community`` filters on the row's 社区
  (coverage: the registry person's 社区);
- ``coverage``: ``registered`` = registry persons of the group alive on 1 January of the
  year (no death dated before it); 高龄 = 80 or older on 31 December of the year (birth
  from 出生日期, else from 身份证号 digits 7–14); ``visited`` / ``assisted`` = of them,
  those whose 身份证号 has a visit / a disbursement dated in the year. With year ``''``:
  registered = persons with no death at all, 高龄 judged on 31 December of the current
  calendar year, visits/disbursements of any date;
- ``election_turnout``: ``term`` is an int (届次 ``第8届`` = ``8``); ``valid`` is 1 when
  ballots*2 > registered (直接选举, 户代表选举) or ballots*3 > registered*2 (居民代表选举);
  ``elected`` = candidates marked 是否当选 = 是 for that community and term (any round);
- ``committee_composition``: members = elected candidates; age in full years on the
  election date of their community+term; ``share`` = round(members / total, 4), 0.0
  when there are no members.
"""
from __future__ import annotations

import csv
import datetime as _dt
import re
import unicodedata
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

FILES = {
    "programs": "01_programs.csv",
    "registry": "02_registry.csv",
    "disbursements": "03_disbursements.csv",
    "visits": "04_visits.csv",
    "dibao": "05_dibao.csv",
    "deaths": "06_deaths.csv",
    "elections": "07_elections.csv",
    "candidates": "08_candidates.csv",
}

BUILTIN_PROGRAMS = {
    **{p: "慰问" for p in ("春节慰问", "低保慰问", "特困慰问", "助残慰问", "高龄慰问",
                           "军烈属慰问", "困难户慰问", "日常慰问")},
    **{p: "救助" for p in ("大病医疗救助", "临时救助", "日常医疗救助", "困难救助", "刑释人员救助")},
    **{p: "补贴" for p in ("爱心购物券", "廉租房补助", "再就业补助")},
    "低保金": "保障",
}

COVERAGE_GROUPS = ("低保", "特困", "残疾", "高龄", "军烈属", "空巢老人")
MILITARY = {"军属", "烈属", "现役军人"}
CENT = Decimal("0.01")
YES = {"是", "y", "yes", "1", "√", "true"}

DIMENSIONS = (
    ("政治面貌", ("党员", "非党员")),
    ("年龄", ("30岁及以下", "31-39岁", "40-49岁", "50-59岁", "60岁及以上")),
    ("文化程度", ("大专及以上", "高中", "初中及以下")),
    ("性别", ("男", "女")),
)


# ------------------------------------------------------------------ parsing
def _norm(text) -> str:
    if text is None:
        return ""
    return unicodedata.normalize("NFKC", str(text)).strip()


def _header(h: str) -> str:
    return _norm(h).replace(" ", "")


def parse_date(text) -> _dt.date | None:
    t = _norm(text)
    if not t:
        return None
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", t)
    if not m:
        raise ValueError(f"bad date {text!r}")
    return _dt.date(*map(int, m.groups()))


def parse_amount(text) -> Decimal | None:
    t = _norm(text).replace(",", "").replace("元", "").replace("¥", "").replace("￥", "")
    if not t:
        return None
    return Decimal(t).quantize(CENT)


_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}


def parse_term(text) -> int | None:
    """`8`, `第8届`, `第八届`, `第十二届` → int; '' → None."""
    t = _norm(text)
    if not t:
        return None
    t = t.removeprefix("第").removesuffix("届")
    if t.isdigit():
        return int(t)
    if "十" in t:
        tens, _, units = t.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0)
    return _CN_DIGITS[t]


def parse_month(text) -> str:
    """`2012-01`, `2012/1`, `2012年1月` → '2012-01'; '' → ''."""
    t = _norm(text)
    if not t:
        return ""
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?", t)
    if not m:
        raise ValueError(f"bad month {text!r}")
    return f"{int(m[1]):04d}-{int(m[2]):02d}"


def is_yes(text) -> bool:
    return _norm(text).lower() in YES


def categories(text) -> set[str]:
    return {c for c in re.split(r"[、,，;；/]", _norm(text)) if c.strip()}


def birth_date(row: dict) -> _dt.date:
    b = parse_date(row.get("出生日期", ""))
    if b:
        return b
    idn = _norm(row["身份证号"])
    return _dt.date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14]))


def age_on(birth: _dt.date, on: _dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _id(text) -> str:
    return _norm(text).upper()


def load(sample_dir) -> dict[str, list[dict]]:
    """Every sample file as a list of dicts (header → trimmed text), keyed by kind:
    programs, registry, disbursements, visits, dibao, deaths, elections, candidates.
    Headers are normalised (NFKC: `金额（元）` → `金额(元)`). Missing files give []."""
    sample_dir = Path(sample_dir)
    out = {}
    for kind, fname in FILES.items():
        path = sample_dir / fname
        if not path.exists():
            out[kind] = []
            continue
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [_header(h) for h in next(reader)]
            out[kind] = [{h: _norm(v) for h, v in zip(header, row)}
                         for row in reader if any(_norm(v) for v in row)]
    return out


def program_categories(data: dict) -> dict[str, str]:
    mapping = dict(BUILTIN_PROGRAMS)
    for r in data["programs"]:
        mapping[r["项目"]] = r["类别"]
    return mapping


# ------------------------------------------------------------------ relief
def _payments(sample_dir, year: str, community: str) -> list[dict]:
    data = load(sample_dir)
    cats = program_categories(data)
    rows = []
    for r in data["disbursements"]:
        d = parse_date(r["发放日期"])
        if year and d.year != int(year):
            continue
        if community and r["社区"] != community:
            continue
        rows.append({"date": d, "community": r["社区"], "program": r["项目"],
                     "category": cats[r["项目"]], "id": _id(r["身份证号"]),
                     "amount": parse_amount(r.get("金额(元)", ""))})
    return rows


def _total(rows) -> Decimal:
    return sum((r["amount"] for r in rows if r["amount"] is not None),
               Decimal("0")).quantize(CENT)


def _group(rows, key):
    groups = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return sorted(groups.items())


def relief_by_category(sample_dir, year="", community=""):
    return [{"category": k, "payments": len(g), "recipients": len({r["id"] for r in g}),
             "total_yuan": _total(g)}
            for k, g in _group(_payments(sample_dir, year, community), lambda r: r["category"])]


def relief_by_program(sample_dir, year="", community=""):
    return [{"program": k, "category": g[0]["category"], "payments": len(g),
             "recipients": len({r["id"] for r in g}), "total_yuan": _total(g)}
            for k, g in _group(_payments(sample_dir, year, community), lambda r: r["program"])]


def relief_by_month(sample_dir, year="", community=""):
    return [{"month": k[0], "category": k[1], "payments": len(g), "total_yuan": _total(g)}
            for k, g in _group(_payments(sample_dir, year, community),
                               lambda r: (f"{r['date']:%Y-%m}", r["category"]))]


def relief_by_community(sample_dir, year=""):
    return [{"community": k, "payments": len(g), "recipients": len({r["id"] for r in g}),
             "total_yuan": _total(g)}
            for k, g in _group(_payments(sample_dir, year, ""), lambda r: r["community"])]


# ------------------------------------------------------------------ coverage
def coverage(sample_dir, year="", community=""):
    data = load(sample_dir)
    deaths = {}
    for r in data["deaths"]:
        d = parse_date(r["死亡日期"])
        i = _id(r["身份证号"])
        deaths[i] = min(d, deaths.get(i, d))
    if year:
        y = int(year)
        alive = lambda i: i not in deaths or deaths[i] >= _dt.date(y, 1, 1)  # noqa: E731
        in_year = lambda d: d.year == y  # noqa: E731
    else:
        y = _dt.date.today().year
        alive = lambda i: i not in deaths  # noqa: E731
        in_year = lambda d: True  # noqa: E731
    end = _dt.date(y, 12, 31)
    visited = {_id(r["身份证号"]) for r in data["visits"] if in_year(parse_date(r["走访日期"]))}
    assisted = {_id(r["身份证号"]) for r in data["disbursements"]
                if in_year(parse_date(r["发放日期"]))}
    members = {g: set() for g in COVERAGE_GROUPS}
    for r in data["registry"]:
        if community and r["社区"] != community:
            continue
        i = _id(r["身份证号"])
        if not alive(i):
            continue
        cats = categories(r.get("人员类别", ""))
        for g in ("低保", "特困", "残疾", "空巢老人"):
            if g in cats:
                members[g].add(i)
        if cats & MILITARY:
            members["军烈属"].add(i)
        if age_on(birth_date(r), end) >= 80:
            members["高龄"].add(i)
    out = []
    for g in COVERAGE_GROUPS:
        reg = members[g]
        v, a = len(reg & visited), len(reg & assisted)
        out.append({"group_name": g, "registered": len(reg), "visited": v, "assisted": a,
                    "visit_rate": round(v / len(reg), 4) if reg else 0.0,
                    "assist_rate": round(a / len(reg), 4) if reg else 0.0})
    return out


# ------------------------------------------------------------------ elections
def _elections(data, term, community):
    t = parse_term(term)
    out = []
    for r in data["elections"]:
        et = parse_term(r["届次"])
        if t is not None and et != t:
            continue
        if community and r["社区"] != community:
            continue
        out.append((r, et))
    return out


def election_turnout(sample_dir, term="", community=""):
    data = load(sample_dir)
    elected = defaultdict(int)
    for c in data["candidates"]:
        if is_yes(c["是否当选"]):
            elected[(c["社区"], parse_term(c["届次"]))] += 1
    out = []
    for r, t in _elections(data, term, community):
        reg, ballots = int(r["登记选民数"]), int(r["参加投票人数"])
        method = r["选举方式"]
        if method == "居民代表选举":
            valid = ballots * 3 > reg * 2
        else:
            valid = ballots * 2 > reg
        out.append({"community": r["社区"], "term": t,
                    "election_date": parse_date(r["选举日期"]).isoformat(), "method": method,
                    "registered_voters": reg, "ballots_cast": ballots,
                    "turnout": round(ballots / reg, 4) if reg else 0.0, "valid": int(valid),
                    "seats": int(r["应选名额"]), "elected": elected[(r["社区"], t)]})
    out.sort(key=lambda e: (e["community"], e["term"]))
    return out


def _age_bucket(age: int) -> str:
    if age <= 30:
        return "30岁及以下"
    if age <= 39:
        return "31-39岁"
    if age <= 49:
        return "40-49岁"
    if age <= 59:
        return "50-59岁"
    return "60岁及以上"


def _edu_bucket(edu: str) -> str:
    if edu in ("研究生", "大学本科", "大专"):
        return "大专及以上"
    if edu in ("高中", "中专"):
        return "高中"
    return "初中及以下"


def committee_composition(sample_dir, term="", community=""):
    data = load(sample_dir)
    dates = {(r["社区"], t): parse_date(r["选举日期"]) for r, t in _elections(data, term, community)}
    counts = {dim: dict.fromkeys(buckets, 0) for dim, buckets in DIMENSIONS}
    total = 0
    for c in data["candidates"]:
        key = (c["社区"], parse_term(c["届次"]))
        if key not in dates or not is_yes(c["是否当选"]):
            continue
        total += 1
        counts["政治面貌"]["党员" if c["政治面貌"] in ("中共党员", "中共预备党员") else "非党员"] += 1
        counts["年龄"][_age_bucket(age_on(parse_date(c["出生日期"]), dates[key]))] += 1
        counts["文化程度"][_edu_bucket(c["文化程度"])] += 1
        counts["性别"][c["性别"]] += 1
    return [{"dimension": dim, "bucket": b, "members": counts[dim][b],
             "share": round(counts[dim][b] / total, 4) if total else 0.0}
            for dim, buckets in DIMENSIONS for b in buckets]


# ------------------------------------------------------------------ extra helpers
def dibao_at_year_end(sample_dir, year="2012"):
    """Enrolments still open at the end of `year` (终止月份 blank or after the year, 起始月份
    in or before it): households, persons, monthly total, 渐退 count and the monthly
    reduction of the 渐退 households (their previous row's amount minus the current one)."""
    data = load(sample_dir)
    last = f"{year}-12"
    rows = data["dibao"]
    month = parse_month
    current = [r for r in rows if month(r["起始月份"]) <= last
               and (not r["终止月份"] or month(r["终止月份"]) > last)]
    jiantui = [r for r in current if r["状态"] == "渐退"]
    reduction = Decimal("0")
    for r in jiantui:
        earlier = [e for e in rows if e["户号"] == r["户号"] and e["社区"] == r["社区"]
                   and e is not r and e["终止月份"]
                   and month(e["终止月份"]) < month(r["起始月份"])]
        prev = max(earlier, key=lambda e: month(e["终止月份"]))
        reduction += parse_amount(prev["月保障金(元)"]) - parse_amount(r["月保障金(元)"])
    return {"households": len({(r["社区"], r["户号"]) for r in current}),
            "persons": sum(int(r["保障人数"]) for r in current),
            "monthly_yuan": sum((parse_amount(r["月保障金(元)"]) for r in current), Decimal("0")),
            "jiantui": len(jiantui), "reduction_yuan": reduction.quantize(CENT)}
