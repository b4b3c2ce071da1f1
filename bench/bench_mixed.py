"""A mixed write workload on a running `shequ serve`, then `shequ check`: no drift allowed.

    python bench/bench_mixed.py --db-dir /tmp/shequ-bench/100000/data
    python bench/bench_mixed.py --db-dir D --duration 60 --writers 6 --ingest-rows 50000

It CHANGES the data dir (that is the point): run it on a copy you can throw away.

Starts `shequ serve` on the data dir; while it runs, for at least --duration seconds and
until the ingest has finished:

  ingest    `shequ ingest` of a further disbursement ledger (--ingest-rows rows for residents
            already in the registry, written from the database into $SHEQU_BENCH_WORK/mixed/),
            started 2 s in, as a separate process
  staff     --writers accounts (role staff, logged in with the login form) in a loop:
            登记发放 and 登记走访 forms, 修改居民 form edits (toggle a 人员类别 on a resident,
            with the form's version check), JSON API inserts of payments and updates of
            their amount, date and programme (/community/disbursements/…/-/insert, -/update)
  admin     restores through /-/shequ/restore (a changed payment back to its first version)
            and deletes through the API followed by a restore of the deleted row
  reader    the summary stored queries, to read while the aggregates are written

Then stops the server and runs `python -m ingest.cli check --db-dir DIR`, printing its output
and exit code. Exit 0 (it says there is no difference) is a PASS; exit 1 lists the drift.
If the check command does not exist (yet), the result says "check command missing".
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import html.parser
import random
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as c  # noqa: E402

STAFF_PASSWORD = "bench-staff-password-2026"
LOCKED = "database is locked"
CATEGORY = "空巢老人"
DISBURSEMENT_HEADER = ["发放日期", "社区", "户号", "姓名", "身份证号", "项目", "方式", "物品", "金额(元)", "经办人"]


# ------------------------------------------------------------------ preparation

def further_ledger(db_path: Path, rows: int, out_dir: Path) -> Path:
    """A disbursement ledger for residents already registered. Its seed is the number of
    payments in the database, so the same state gives the same file, and a second run on the
    same data dir gives a new file (not "already loaded")."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        seed = conn.execute("SELECT coalesce(max(id), 0) FROM disbursements").fetchone()[0]
        people = conn.execute(
            "SELECT c.name, h.household_no, p.name, p.id_number FROM persons p"
            " JOIN communities c ON c.id = p.community_id LEFT JOIN households h ON h.id = p.household_id"
            " ORDER BY p.id LIMIT 100000").fetchall()
        programs = [n for (n,) in conn.execute("SELECT name FROM programs ORDER BY id")]
    finally:
        conn.close()
    if not people:
        raise RuntimeError("the data dir has no residents: load a registry first")
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"mixed-{seed}-{rows}.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(DISBURSEMENT_HEADER)
        for _ in range(rows):
            community, household, name, id_number = people[rng.randrange(len(people))]
            day = f"{rng.randrange(2016, 2026)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
            out.writerow([day, community, household or "", name, id_number, rng.choice(programs), "现金", "",
                          f"{rng.randrange(50, 3000)}.{rng.randrange(100):02d}", "混合负载"])
    return path


class FormFields(html.parser.HTMLParser):
    """name → list of values of a form page's inputs, checked boxes, selects, textareas."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._select = self._option = self._textarea = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.values.setdefault(a["name"], []).append(a.get("value", "on"))
            else:
                self.values.setdefault(a["name"], []).append(a.get("value") or "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self._option, self._text = a.get("value"), ""
            self._option = self._option if self._option is not None else True
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data):
        if self._option is not None or self._textarea:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None:
            value = self._text.strip() if self._option is True else self._option
            self.values.setdefault(self._select, []).append(value)
            self._option = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.values.setdefault(self._textarea, []).append(self._text)
            self._textarea = None


# ------------------------------------------------------------------ the workload

class Stats:
    def __init__(self):
        self.outcomes = Counter()  # (action, status) → n
        self.failures: list[str] = []
        self.locked = 0
        self.updated: list[int] = []  # payments changed by the staff
        self.inserted: list[int] = []

    def record(self, action, response, expected):
        status = response.status_code
        self.outcomes[(action, status)] += 1
        if LOCKED in response.text:
            self.locked += 1
        if status not in expected:
            self.failures.append(f"{action}: HTTP {status} {response.text[:200]!r}")
        return status in expected


async def login(client, username, password):
    response = await client.post("/-/login", data={"username": username, "password": password})
    if response.status_code != 302:
        raise RuntimeError(f"login {username}: HTTP {response.status_code} {response.text[:200]!r}")


async def staff_writer(n, client, facts, stats, deadline):
    rng = random.Random(1000 + n)
    k = 0
    while time.monotonic() < deadline():
        person_id, community_id, household_no = rng.choice(facts["people"])
        program = rng.choice(facts["programs"])
        amount = f"{rng.randrange(50, 3000)}.{rng.randrange(100):02d}"
        day = f"{rng.randrange(2016, 2026)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        action = ("form_disbursement", "form_visit", "form_person_edit", "api_insert", "api_update")[k % 5]
        try:
            if action == "form_disbursement":
                r = await client.post("/-/shequ/form/disbursement", data={
                    "person_id": str(person_id), "发放日期": day, "项目": program[1], "方式": "现金",
                    "金额(元)": amount, "经办人": f"混合{n}"})
                stats.record(action, r, {302})
            elif action == "form_visit":
                r = await client.post("/-/shequ/form/visit", data={
                    "person_id": str(person_id), "走访日期": day, "走访人": f"混合{n}", "事由": f"mixed-{n}-{k}"})
                stats.record(action, r, {302})
            elif action == "form_person_edit":
                page = await client.get(f"/-/shequ/form/person?id={person_id}")
                if stats.record("form_person_page", page, {200}):
                    fields = FormFields()
                    fields.feed(page.text)
                    data = {k2: (v if k2 == "人员类别" else v[0]) for k2, v in fields.values.items()
                            if not k2.startswith("c") or "-" not in k2}
                    categories = list(fields.values.get("人员类别", []))
                    data["人员类别"] = ([x for x in categories if x != CATEGORY] if CATEGORY in categories
                                    else categories + [CATEGORY])
                    r = await client.post(f"/-/shequ/form/person?id={person_id}", data=data)
                    stats.record(action, r, {302, 409})  # 409: someone else saved first (version check)
            elif action == "api_insert":
                r = await client.post("/community/disbursements/-/insert", json={"row": {
                    "paid_on": day, "community_id": community_id, "household_no": household_no,
                    "person_id": person_id, "program_id": program[0], "method": "转账",
                    "amount_yuan": float(amount), "handler": f"接口{n}"}, "return": True})
                if stats.record(action, r, {201}):
                    with_id = r.json().get("rows") or [{}]
                    if with_id[0].get("id"):
                        stats.inserted.append(with_id[0]["id"])
            else:
                pool = stats.inserted[-50:] or facts["payments"]
                row_id = rng.choice(pool)
                r = await client.post(f"/community/disbursements/{row_id}/-/update", json={"update": {
                    "amount_yuan": float(amount), "paid_on": day, "program_id": program[0]}})
                # 404: an admin deleted the row a moment ago (it is restored a moment later)
                if stats.record(action, r, {200, 404}) and r.status_code == 200:
                    stats.updated.append(row_id)
        except httpx.HTTPError as e:
            stats.outcomes[(action, "transport error")] += 1
            stats.failures.append(f"{action}: {e!r}")
        k += 1


def audit_entries(db_path, row_id):
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT id, action FROM audit_log WHERE table_name = 'disbursements'"
                            " AND row_id = ? ORDER BY id", [row_id]).fetchall()
    finally:
        conn.close()


async def admin_restorer(client, db_path, facts, stats, deadline):
    rng = random.Random(7)
    k = 0
    while time.monotonic() < deadline():
        await asyncio.sleep(0.3)
        try:
            if k % 3 == 2:  # delete through the API, then restore the deleted row
                row_id = rng.choice(stats.inserted[-100:] or facts["payments"])
                r = await client.post(f"/community/disbursements/{row_id}/-/delete")
                if not stats.record("api_delete", r, {200}):
                    continue
                entries = await asyncio.to_thread(audit_entries, db_path, row_id)
                last = max((i for i, action in entries if action != "delete"), default=None)
                if last is None:
                    continue
                r = await client.post("/-/shequ/restore", data={
                    "table": "disbursements", "row_id": str(row_id), "audit_id": str(last)})
                stats.record("restore_deleted", r, {302})
            else:  # a changed payment back to its first version
                if not stats.updated:
                    continue
                row_id = rng.choice(stats.updated[-100:])
                entries = await asyncio.to_thread(audit_entries, db_path, row_id)
                first = next((i for i, action in entries if action == "insert"), None)
                if first is None or entries[-1][1] == "delete":
                    continue
                r = await client.post("/-/shequ/restore", data={
                    "table": "disbursements", "row_id": str(row_id), "audit_id": str(first)})
                stats.record("restore_changed", r, {302})
        except httpx.HTTPError as e:
            stats.outcomes[("admin", "transport error")] += 1
            stats.failures.append(f"admin: {e!r}")
        k += 1


async def reader(client, stats, deadline, year):
    paths = [f"/community/relief_by_category.json?year={year}&community=",
             "/community/relief_by_program.json?year=&community=",
             f"/community/relief_by_community.json?year={year}",
             f"/community/coverage.json?year={year}&community=",
             f"/community/relief_by_month.json?year={year}&community="]
    k = 0
    while time.monotonic() < deadline():
        try:
            r = await client.get(paths[k % len(paths)])
            stats.record("read_summary", r, {200})
        except httpx.HTTPError as e:
            stats.failures.append(f"read: {e!r}")
        k += 1
        await asyncio.sleep(0.05)


def read_facts(db_path: Path) -> dict:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        people = conn.execute(
            "SELECT p.id, p.community_id, h.household_no FROM persons p LEFT JOIN households h"
            " ON h.id = p.household_id ORDER BY p.id LIMIT 500").fetchall()
        programs = conn.execute("SELECT id, name FROM programs ORDER BY id").fetchall()
        payments = [i for (i,) in conn.execute("SELECT id FROM disbursements ORDER BY id LIMIT 500")]
        count = conn.execute("SELECT count(*) FROM disbursements").fetchone()[0]
    finally:
        conn.close()
    return {"people": people, "programs": programs, "payments": payments or [1], "disbursements": count}


async def workload(server, db_dir, ledger, writers, duration, year, stats, logs) -> dict:
    db_path = db_dir / "community.db"
    facts = read_facts(db_path)
    timeout, limits = httpx.Timeout(600.0), httpx.Limits(max_connections=4, keepalive_expiry=2.0)
    clients = [httpx.AsyncClient(base_url=server.base, timeout=timeout, limits=limits) for _ in range(writers + 2)]
    ingest = {}
    try:
        for n in range(writers):
            await login(clients[n], f"bench-staff{n + 1}", STAFF_PASSWORD)
        await login(clients[writers], c.ADMIN, c.ADMIN_PASSWORD)
        await login(clients[writers + 1], c.ADMIN, c.ADMIN_PASSWORD)
        started = time.monotonic()

        def until():  # the duration, and in any case until the ingest has finished
            return 1e18 if "done" not in ingest else max(started + duration, ingest["done"])

        async def run_ingest():
            try:
                await asyncio.sleep(2.0)
                t = time.monotonic()
                m = await asyncio.to_thread(lambda: c.run_measured(
                    c.shequ("ingest", ledger, "--db-dir", db_dir), log_path=logs / "mixed-ingest.log"))
                ingest.update(seconds=time.monotonic() - t, returncode=m.returncode,
                              output=m.output.strip()[-1500:], peak_rss_mb=m.peak_rss_mb,
                              error=(m.output.strip().splitlines() or [""])[-1][:300] if m.returncode else "")
            finally:
                ingest["done"] = time.monotonic()

        ingesting = asyncio.create_task(run_ingest())
        tasks = [staff_writer(n, clients[n], facts, stats, until) for n in range(writers)]
        tasks.append(admin_restorer(clients[writers], db_path, facts, stats, until))
        tasks.append(reader(clients[writers + 1], stats, until, year))
        await asyncio.gather(*tasks)
        await ingesting
        elapsed = time.monotonic() - started
    finally:
        for client in clients:
            await client.aclose()
    return {"elapsed_s": elapsed, "ingest": ingest, "disbursements_before": facts["disbursements"]}


def check_command(db_dir: Path, timeout: float, deep: bool = False) -> dict:
    probe = c.run_measured(c.shequ("check", "--help"))
    if probe.returncode != 0 and ("No such command" in probe.output or "没有" in probe.output
                                  or probe.returncode == 2):
        return {"status": "check command missing", "returncode": None,
                "output": "`shequ check` does not exist (yet): " + probe.output.strip()[-300:]}
    m = c.run_measured(c.shequ("check", *(["--deep"] if deep else []), "--db-dir", db_dir), timeout=timeout)
    status = {0: "no drift", 1: "DRIFT"}.get(m.returncode, f"check failed (exit {m.returncode})")
    return {"status": status, "returncode": m.returncode, "output": m.output.strip(), "seconds": m.seconds}


def bench(db_dir: Path, writers: int, duration: float, ingest_rows: int | None, year: str,
          start_timeout: float, check_timeout: float, logs: Path, work: Path, deep: bool = False) -> dict:
    db_path = db_dir / "community.db"
    if not db_path.exists():
        raise SystemExit(f"{db_path} does not exist")
    c.ensure_user(db_dir, c.ADMIN, "admin", c.ADMIN_PASSWORD)
    for n in range(writers):
        c.ensure_user(db_dir, f"bench-staff{n + 1}", "staff", STAFF_PASSWORD)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    existing = conn.execute("SELECT count(*) FROM disbursements").fetchone()[0]
    audit_start = conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]
    conn.close()
    rows = ingest_rows if ingest_rows is not None else min(200_000, max(2_000, existing // 10))
    ledger = further_ledger(db_path, rows, work / "mixed")
    c.log(f"mixed bench on {db_dir}: {writers} staff writers, an admin, a reader, an ingest of {rows:,} rows")
    server = c.Server.shequ(db_dir, logs / "mixed-shequ.log")
    stats = Stats()
    server_log_start = server.log_path.stat().st_size if server.log_path.exists() else 0
    try:
        server.start(start_timeout)
        result = asyncio.run(workload(server, db_dir, ledger, writers, duration, year, stats, logs))
    finally:
        server.stop()
    server_log = server.log_path.read_text(errors="replace")[server_log_start:] if server.log_path.exists() else ""
    result.update(ingest_rows=rows, ledger=str(ledger), writers=writers,
                  outcomes={f"{a} {s}": n for (a, s), n in sorted(stats.outcomes.items(), key=str)},
                  failures=stats.failures[:20], failure_count=len(stats.failures), locked=stats.locked,
                  server_errors=server_log.count("Traceback"),
                  five_xx=sum(n for (_, s), n in stats.outcomes.items() if isinstance(s, int) and s >= 500))
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:  # what the workload wrote, as the audit log saw it
        result["audited"] = [list(r) for r in conn.execute(
            "SELECT via, table_name, action, count(*) FROM audit_log WHERE id > ?"
            " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", [audit_start])]
    finally:
        conn.close()
    c.log(f"  workload done in {result['elapsed_s']:.1f} s; running shequ check")
    result["check"] = check_command(db_dir, check_timeout, deep)
    result["check"]["command"] = f"shequ check {'--deep ' if deep else ''}--db-dir {db_dir}"
    ing = result["ingest"]
    result["pass"] = {"check": result["check"]["status"] == "no drift" if result["check"]["returncode"] is not None
                      else None,
                      "ingest": ing.get("returncode") == 0, "no_5xx": result["five_xx"] == 0,
                      "no_locked": stats.locked == 0}
    return result


def report(r: dict, markdown=False) -> str:
    ing = r["ingest"]
    counts = Counter()
    for key, n in r["outcomes"].items():
        action, status = key.rsplit(" ", 1)
        counts[(action, status)] += n
    rows = [[action, status, str(n)] for (action, status), n in sorted(counts.items())]
    check = r["check"]
    lines = [
        c.table(["action", "HTTP status", "requests"], rows, markdown), "",
        c.table(["what", "result", ""], [
            ["ingest under load", f"{r['ingest_rows']:,} rows in {c.fmt(ing.get('seconds'), 1)} s, exit "
             f"{ing.get('returncode')}, peak RSS {c.fmt(ing.get('peak_rss_mb'), 0)} MB"
             + (f": {ing['error']}" if ing.get("error") else ""), c.verdict(r["pass"]["ingest"])],
            ["5xx responses", str(r["five_xx"]), c.verdict(r["pass"]["no_5xx"])],
            ["'database is locked' in responses", str(r["locked"]), c.verdict(r["pass"]["no_locked"])],
            ["unexpected statuses / transport errors", str(r["failure_count"]), ""],
            ["tracebacks in the server log", str(r["server_errors"]), ""],
            ["shequ check", f"{check['status']} (exit {check['returncode']})", c.verdict(r["pass"]["check"])],
        ], markdown), "",
        c.table(["audit log: via", "table", "action", "rows"],
                [[a, b, x, f"{n:,}"] for a, b, x, n in r.get("audited", [])], markdown), "",
        f"{r['writers']} staff writers + 1 admin (restores, deletes) + 1 summary reader for "
        f"{r['elapsed_s']:.1f} s on a data dir with {r['disbursements_before']:,} disbursements.",
        "", f"`{check.get('command', 'shequ check')}` output:", "", check["output"][-3000:] or "(nothing)"]
    if r["failures"]:
        lines += ["", "first unexpected answers:", *("  " + f for f in r["failures"][:8])]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-dir", type=Path, required=True, help="the data dir (it is changed!)")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds at least (and until the ingest ends)")
    parser.add_argument("--ingest-rows", type=int, default=None,
                        help="rows of the further ledger (default: 10%% of the payments, 2,000 to 200,000)")
    parser.add_argument("--year", default="2020")
    parser.add_argument("--start-timeout", type=float, default=1800.0)
    parser.add_argument("--check-timeout", type=float, default=4 * 3600)
    parser.add_argument("--deep", action="store_true", help="run `shequ check --deep` (also the stored queries)")
    parser.add_argument("--logs", type=Path, default=c.WORK / "logs")
    parser.add_argument("--work", type=Path, default=c.WORK)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.logs.mkdir(parents=True, exist_ok=True)
    result = bench(args.db_dir.resolve(), args.writers, args.duration, args.ingest_rows, args.year,
                   args.start_timeout, args.check_timeout, args.logs, args.work, args.deep)
    print()
    print(report(result))
    c.write_json(args.json, result)
    sys.exit(0 if result["pass"]["check"] else 1)


if __name__ == "__main__":
    main()
