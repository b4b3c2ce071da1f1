"""Over HTTP, side by side in one run: summaries, staff table pages and search, shequ vs stock.

    python bench/bench_http.py --data /tmp/shequ-bench/100000/data     # a data dir with community.db
    python bench/bench_http.py --data D --only search --runs 5 --json /tmp/http.json

Creates the admin account `bench-admin` in the data dir if missing and a token for it, starts
`shequ serve` on the data dir (which may migrate community.db first) and then a stock
`datasette serve` on the same community.db (WAL: both read it at once; no plugins, no config),
both on loopback. Then, --runs times (default 3; the figures are the medians over the runs),
every endpoint in turn:

  floor      the first JSON page of /community/disbursements (shequ; stock for reference):
             Datasette's per-request floor
  summaries  every summary stored query as JSON, with its parameters blank and with a year
             (a term for the election summaries): p50 with one client, requests/s at
             concurrency 8; and the same summary as a plain GROUP BY over the raw rows
             (ingest/live_summaries.py; the election summaries' own stored queries) through stock
             Datasette's /community/-/query.json. The rows of both are compared once.
  pages      /community/disbursements HTML and JSON: first page and a deep keyset page
             (?_next=<the id in the middle of the table>); stock for reference
  search     /-/shequ/search.json and the HTML page over persons (?table=persons): a full
             name, a surname, the last 6 digits of an identity number, a category word

Targets (issue 6): summary p50 ≤ 20 ms; at concurrency 8 ≥ 20 × stock's requests/s and
≥ 80 % of the floor's; table pages p50 ≤ 100 ms; search p50 ≤ 50 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as c  # noqa: E402

ROOT = c.ROOT
SUMMARIES = ["relief_by_category", "relief_by_program", "relief_by_month", "relief_by_community",
             "coverage", "election_turnout", "committee_composition"]
TARGET_SUMMARY_MS, TARGET_STOCK_X, TARGET_FLOOR_SHARE = 20.0, 20.0, 0.80
TARGET_PAGE_MS, TARGET_SEARCH_MS = 100.0, 50.0
SECTIONS = ("summaries", "pages", "search")


def stored_queries() -> dict:
    return yaml.safe_load((ROOT / "datasette.yaml").read_text())["databases"]["community"]["queries"]


def reference_sql() -> tuple[dict, str]:
    """The plain GROUP BY form of every summary, and where it came from: the definitions in
    ingest/live_summaries.py; the election summaries' stored queries are plain queries already."""
    from ingest.live_summaries import LIVE

    out = {name: q["sql"] for name, q in stored_queries().items() if name in SUMMARIES}
    out.update(LIVE)
    return out, "ingest/live_summaries.py, stored queries (election summaries)"


# ------------------------------------------------------------------ measuring

class Endpoint:
    def __init__(self, section, name, params_label, url, client, *, concurrency=False, single=30,
                 reference=None, target_ms=None):
        self.section, self.name, self.params_label, self.url, self.client = section, name, params_label, url, client
        self.concurrency, self.single, self.target_ms = concurrency, single, target_ms
        self.reference = reference  # an Endpoint on stock Datasette, or None
        self.p50s, self.rps, self.errors = [], [], []
        self.note = ""

    @property
    def p50(self):
        return c.median(self.p50s)

    @property
    def rate(self):
        return c.median(self.rps)


async def get(client, url):
    response = await client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code} for {url}: {response.text[:200]!r}")
    return response


async def measure(ep: Endpoint, concurrency: int, seconds: float):
    """One run: p50 of `single` sequential requests; then, if asked, requests/s with
    `concurrency` clients for `seconds` (completed requests / time until the last one)."""
    try:
        await get(ep.client, ep.url)  # warm-up
        latencies = []
        for _ in range(ep.single):
            t = time.perf_counter()
            await get(ep.client, ep.url)
            latencies.append((time.perf_counter() - t) * 1000)
        ep.p50s.append(statistics.median(latencies))
        if ep.concurrency:
            done = 0
            started = time.perf_counter()
            stop = started + seconds

            async def worker():
                nonlocal done
                while time.perf_counter() < stop:
                    await get(ep.client, ep.url)
                    done += 1
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            ep.rps.append(done / (time.perf_counter() - started))
    except Exception as e:  # noqa: BLE001 - recorded, the run goes on
        ep.errors.append(str(e)[:300])


def _same_rows(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        for key in y:
            u, v = x.get(key), y[key]
            if isinstance(u, float) or isinstance(v, float):
                if u is None or v is None or not math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif u != v:
                return False
    return True


# ------------------------------------------------------------------ the run

def probe(db_path: Path) -> dict:
    """Ids, names and numbers the endpoints need, read from the database."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        n = conn.execute("SELECT count(*) FROM disbursements").fetchone()[0]
        middle = conn.execute("SELECT id FROM disbursements ORDER BY id LIMIT 1 OFFSET ?",
                              [max(0, n // 2 - 1)]).fetchone()
        persons = conn.execute("SELECT count(*) FROM persons").fetchone()[0]
        person = conn.execute("SELECT name, id_number FROM persons ORDER BY id LIMIT 1 OFFSET ?",
                              [max(0, persons // 2)]).fetchone()
        surname = conn.execute("SELECT substr(name, 1, 1), count(*) FROM persons GROUP BY 1"
                               " ORDER BY 2 DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return {"disbursements": n, "middle_id": middle[0] if middle else 0, "persons": persons,
            "name": person[0] if person else "王伟", "id_suffix": person[1][-6:] if person else "000000",
            "surname": surname[0] if surname else "王"}


def build_endpoints(sections, shequ_client, stock_client, facts, year, term, single) -> tuple[list, Endpoint]:
    queries = stored_queries()
    plain, _ = reference_sql()
    endpoints = []
    floor = Endpoint("floor", "disbursements first JSON page (floor)", "", "/community/disbursements.json",
                     shequ_client, concurrency=True, single=single,
                     reference=Endpoint("floor", "stock", "", "/community/disbursements.json", stock_client,
                                        concurrency=True, single=max(5, single // 3)))
    endpoints.append(floor)
    if "summaries" in sections:
        for name in SUMMARIES:
            params = list(queries[name].get("params") or [])
            key = "year" if "year" in params else ("term" if "term" in params else None)
            variants = [{}] + ([{key: year if key == "year" else term}] if key else [])
            for variant in variants:
                values = {p: variant.get(p, "") for p in params}
                label = ", ".join(f"{k}={v}" for k, v in variant.items()) or "blank"
                stock_sql = {"sql": plain[name], **values}
                ref = Endpoint("summaries", name, label, f"/community/-/query.json?{urlencode(stock_sql)}",
                               stock_client, concurrency=True, single=5)
                endpoints.append(Endpoint("summaries", name, label, f"/community/{name}.json?{urlencode(values)}",
                                          shequ_client, concurrency=True, single=single, reference=ref,
                                          target_ms=TARGET_SUMMARY_MS))
    if "pages" in sections:
        deep = f"_next={facts['middle_id']}"
        for label, path in (("HTML first page", "/community/disbursements"),
                            ("JSON first page", "/community/disbursements.json"),
                            (f"HTML deep page (?{deep})", f"/community/disbursements?{deep}"),
                            (f"JSON deep page (?{deep})", f"/community/disbursements.json?{deep}")):
            ref = Endpoint("pages", label, "", path, stock_client, single=max(5, single // 3))
            endpoints.append(Endpoint("pages", label, "", path, shequ_client, single=single, reference=ref,
                                      target_ms=TARGET_PAGE_MS))
    if "search" in sections:
        for label, q in (("full name", facts["name"]), ("surname", facts["surname"]),
                         ("ID number, last 6 digits", facts["id_suffix"]), ("category word", "低保")):
            for fmt in ("json", "html"):
                path = "/-/shequ/search" + (".json" if fmt == "json" else "")
                url = f"{path}?{urlencode({'q': q, 'table': 'persons'})}"
                endpoints.append(Endpoint("search", f"{label} 「{q}」", fmt.upper(), url, shequ_client,
                                          single=single, target_ms=TARGET_SEARCH_MS))
    return endpoints, floor


async def check_once(endpoints):
    """Every endpoint answers before the clock; summaries: shequ's rows = the plain SQL's."""
    for ep in endpoints:
        try:
            ours = await get(ep.client, ep.url)
        except Exception as e:  # noqa: BLE001
            ep.errors.append(str(e)[:300])
            continue
        if ep.section == "search":
            body = ours.json() if ep.params_label == "JSON" else None
            if body:
                ep.note = "; ".join(f"{g['count']}{'+' if g.get('capped') else ''} matches"
                                    for g in body.get("groups", []))
        if ep.section == "summaries" and ep.reference is not None:
            try:
                theirs = await get(ep.reference.client, ep.reference.url)
                same = _same_rows(ours.json()["rows"], theirs.json()["rows"])
                ep.note = "same rows" if same else "ROWS DIFFER from the plain GROUP BY"
            except Exception as e:  # noqa: BLE001
                ep.reference.errors.append(str(e)[:300])


async def run(data: Path, sections, year, term, seconds, runs, concurrency, single, start_timeout, logs: Path):
    db_path = data / "community.db"
    token = c.admin_token(data)
    shequ = c.Server.shequ(data, logs / "http-shequ.log")
    stock = c.Server.stock(db_path, logs / "http-stock.log")
    result = {"data": str(data), "runs": runs, "concurrency": concurrency, "seconds": seconds,
              "single": single}
    try:
        c.log(f"starting shequ serve on {data}")
        t = time.perf_counter()
        shequ.start(start_timeout)  # first: it may migrate the database
        result["shequ_start_s"] = time.perf_counter() - t
        c.log(f"  up in {result['shequ_start_s']:.1f} s; starting stock datasette on the same file")
        stock.start(start_timeout)
        facts = probe(db_path)
        result["facts"] = facts
        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2,
                              keepalive_expiry=2.0)
        timeout = httpx.Timeout(300.0)
        async with httpx.AsyncClient(base_url=shequ.base, timeout=timeout, limits=limits,
                                     headers={"Authorization": f"Bearer {token}"}) as ours, \
                httpx.AsyncClient(base_url=stock.base, timeout=timeout, limits=limits) as theirs:
            endpoints, floor = build_endpoints(sections, ours, theirs, facts, year, term, single)
            await check_once(endpoints)
            result["rss_before_mb"] = shequ.rss()
            for n in range(1, runs + 1):
                c.log(f"run {n}/{runs}: {len(endpoints)} endpoints")
                for ep in endpoints:
                    if ep.errors:
                        continue
                    await measure(ep, concurrency, seconds)
                    if ep.reference is not None and not ep.reference.errors:
                        await measure(ep.reference, concurrency, seconds)
            result["rss_after_mb"] = shequ.rss()
    finally:
        shequ.stop()
        stock.stop()
    result["endpoints"] = [_as_dict(ep, floor) for ep in endpoints]
    result["reference_source"] = reference_sql()[1]
    return result


def _as_dict(ep: Endpoint, floor: Endpoint) -> dict:
    d = {"section": ep.section, "name": ep.name, "params": ep.params_label, "url": ep.url,
         "p50_ms": ep.p50, "rps": ep.rate, "p50s": ep.p50s, "rps_runs": ep.rps,
         "errors": ep.errors[:3], "note": ep.note, "target_ms": ep.target_ms}
    if ep.reference is not None:
        r = ep.reference
        d["stock"] = {"url": r.url[:200], "p50_ms": r.p50, "rps": r.rate, "p50s": r.p50s,
                      "rps_runs": r.rps, "errors": r.errors[:3]}
    checks = {}
    if ep.target_ms is not None:
        checks["p50"] = None if ep.p50 is None or ep.errors else ep.p50 <= ep.target_ms
    if ep.section == "summaries":
        stock_rps = d.get("stock", {}).get("rps")
        d["x_stock"] = ep.rate / stock_rps if ep.rate and stock_rps else None
        d["floor_share"] = ep.rate / floor.rate if ep.rate and floor.rate else None
        checks["x_stock"] = None if d["x_stock"] is None else d["x_stock"] >= TARGET_STOCK_X
        checks["floor_share"] = None if d["floor_share"] is None else d["floor_share"] >= TARGET_FLOOR_SHARE
        checks["rows"] = None if not ep.note else ep.note == "same rows"
        if ep.errors:
            checks = {k: False for k in checks}
    d["pass"] = checks
    return d


# ------------------------------------------------------------------ report

def report(result: dict, markdown=False) -> str:
    eps = result["endpoints"]
    out = []
    floor = next((e for e in eps if e["section"] == "floor"), None)
    if floor:
        s = floor.get("stock", {})
        out.append(f"floor: shequ {floor['url']}: p50 {c.fmt(floor['p50_ms'])} ms, "
                   f"{c.fmt(floor['rps'])} req/s at concurrency {result['concurrency']} "
                   f"(stock: p50 {c.fmt(s.get('p50_ms'))} ms, {c.fmt(s.get('rps'))} req/s)"
                   + (f"  ERROR {floor['errors'][0]}" if floor["errors"] else ""))
        out.append("")
    rows = []
    for e in (e for e in eps if e["section"] == "summaries"):
        s, p = e.get("stock", {}), e["pass"]
        rows.append([e["name"], e["params"], c.fmt(e["p50_ms"]), c.verdict(p.get("p50")), c.fmt(e["rps"]),
                     c.fmt(s.get("p50_ms")), c.fmt(s.get("rps"), 2),
                     c.fmt(e.get("x_stock")) + ("×" if e.get("x_stock") else ""), c.verdict(p.get("x_stock")),
                     c.fmt(100 * e["floor_share"] if e.get("floor_share") else None, 0) + "%",
                     c.verdict(p.get("floor_share")),
                     ("ERROR: " + e["errors"][0][:80]) if e["errors"] else
                     ("stock ERROR: " + s["errors"][0][:80]) if s.get("errors") else e["note"]])
    if rows:
        out.append(c.table(["summary", "params", "p50 ms (≤20)", "", "req/s c8", "stock p50 ms", "stock req/s c8",
                            "× stock (≥20)", "", "% of floor (≥80)", "", "rows"], rows, markdown))
        out.append("")
    rows = []
    for e in (e for e in eps if e["section"] == "pages"):
        s = e.get("stock", {})
        rows.append([e["name"], c.fmt(e["p50_ms"]), c.verdict(e["pass"].get("p50")), c.fmt(s.get("p50_ms")),
                     ("ERROR: " + e["errors"][0][:80]) if e["errors"] else ""])
    if rows:
        out.append(c.table(["/community/disbursements", "p50 ms (≤100)", "", "stock p50 ms", ""], rows, markdown))
        out.append("")
    rows = []
    for e in (e for e in eps if e["section"] == "search"):
        rows.append([e["name"], e["params"], c.fmt(e["p50_ms"]), c.verdict(e["pass"].get("p50")),
                     ("ERROR: " + e["errors"][0][:80]) if e["errors"] else e["note"]])
    if rows:
        out.append(c.table([f"search over {result['facts']['persons']:,} persons", "format", "p50 ms (≤50)", "",
                            "matches"], rows, markdown))
        out.append("")
    before, after = result.get("rss_before_mb", {}), result.get("rss_after_mb", {})
    out.append(f"{result['facts']['disbursements']:,} disbursements, {result['facts']['persons']:,} persons; "
               f"median over {result['runs']} runs (each: p50 of {result.get('single', 30)} sequential requests, req/s with "
               f"{result['concurrency']} clients for {result['seconds']:.0f} s); shequ serve started in "
               f"{result.get('shequ_start_s', 0):.1f} s; its RSS {c.fmt(before.get('VmRSS'), 0)} → "
               f"{c.fmt(after.get('VmRSS'), 0)} MB (peak {c.fmt(after.get('VmHWM'), 0)}); plain GROUP BY SQL "
               f"from {result['reference_source']}.")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a data dir with community.db")
    parser.add_argument("--year", default="2020")
    parser.add_argument("--term", default="1")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of each concurrency measurement")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--single", type=int, default=30, help="sequential requests for the p50")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    parser.add_argument("--start-timeout", type=float, default=1800.0)
    parser.add_argument("--logs", type=Path, default=c.WORK / "logs")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    result = asyncio.run(run(args.data.resolve(), sections, args.year, args.term, args.seconds, args.runs,
                             args.concurrency, args.single, args.start_timeout, args.logs))
    result["sections"] = sections
    print()
    print(report(result))
    c.write_json(args.json, result)


if __name__ == "__main__":
    main()
