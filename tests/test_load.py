"""Concurrency under load: `shequ serve` (a real server process, loopback only) for 60 s
with 50 readers, 8 staff writing through the forms and the JSON write API, and one
`shequ ingest` of a 100 000-row file running at the same time.

Afterwards: no 5xx, no "database is locked" in any response (nor in the server's log),
every acknowledged write in the database exactly once and no refused write in it, the
import complete. The numbers (requests, req/s, read latency percentiles) are printed and
written to test-artifacts/load_report.txt.
"""
from __future__ import annotations

import asyncio
import math
import random
import sqlite3
import threading
import time
from collections import Counter

import httpx
import pytest

from ingest import ROOT, accounts, datadir, schema
from ingest.loader import load_files

from .conftest import PASSWORD
from .test_crash import _cli, _generator, _ingest_in_process, free_port, start_server

pytestmark = pytest.mark.load

DURATION = 60.0
READERS = 50
WRITERS = 8
INGEST_ROWS = 100_000
INGEST_AFTER = 5.0  # seconds into the run
SEED = 20260602
REPORT = ROOT / "test-artifacts" / "load_report.txt"
LOCKED = "database is locked"

PUBLIC_PAGES = (
    "/", "/public", "/public/relief_by_category.json?year=2012&community=",
    "/public/relief_by_program_data.json?_shape=array&_size=50",
    "/public/committee_members?_size=20", "/public/coverage_data.json?year=2012",
)
STAFF_PAGES = (
    "/community", "/community/persons.json?_size=20", "/community/persons?_size=20",
    "/community/disbursements.json?_size=20&_sort_desc=id", "/community/visits?_size=20&_sort_desc=id",
    "/community/relief_by_category.json?year=2012&community=",
    "/community/relief_by_category.json?year=&community=",
    "/community/relief_by_community.json?year=2012", "/community/coverage.json?year=2012&community=",
    "/community/election_turnout.json?term=&community=",
    "/community/persons/{person}", "/community/disbursements/{disbursement}.json",
)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


class Stats:
    def __init__(self):
        self.reads, self.writes = [], []  # (latency s, status)
        self.read_seconds = DURATION
        self.statuses = Counter()
        self.locked, self.failures = 0, []
        self.acknowledged, self.refused, self.unknown = {}, {}, {}  # marker -> "form" | "api"

    def record(self, kind, method_path, response, latency):
        (self.reads if kind == "read" else self.writes).append((latency, response.status_code))
        self.statuses[response.status_code] += 1
        if LOCKED in response.text:
            self.locked += 1


async def _login(client, username):
    response = await client.post("/-/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text
    client.cookies.set("shequ_session", response.cookies["shequ_session"])


async def reader(n, clients, pages, stats, deadline):
    rng = random.Random(SEED + n)
    while time.monotonic() < deadline:
        role, path = rng.choice(pages)
        started = time.perf_counter()
        try:
            response = await clients[role].get(path)
        except httpx.TransportError as e:  # the server dropped the connection: a failure
            stats.failures.append((f"GET {path}", "transport", repr(e)))
            continue
        stats.record("read", f"GET {path}", response, time.perf_counter() - started)
        if response.status_code != 200 or LOCKED in response.text:
            stats.failures.append((f"GET {path}", response.status_code, response.text[:300]))


async def writer(n, client, people, stats, deadline):
    rng = random.Random(SEED + 1000 + n)
    k = 0
    while time.monotonic() < deadline:
        marker = f"load-{n}-{k}"
        person_id, community_id = rng.choice(people)
        started = time.perf_counter()
        via, expected = ("form", 302) if k % 2 == 0 else ("api", 201)
        try:
            if via == "form":
                response = await client.post("/-/shequ/form/visit", data={
                    "person_id": str(person_id), "走访日期": "2024-05-01", "走访人": f"负载{n}",
                    "事由": marker})
            else:
                response = await client.post("/community/visits/-/insert", json={"row": {
                    "visited_on": "2024-05-01", "community_id": community_id, "person_id": person_id,
                    "visitors": f"负载{n}", "purpose": marker}})
        except httpx.TransportError as e:  # unknown outcome: neither acknowledged nor refused
            stats.unknown[marker] = via
            stats.failures.append((f"POST {via}", "transport", repr(e)))
            k += 1
            continue
        stats.record("write", f"POST {via}", response, time.perf_counter() - started)
        if response.status_code == expected and LOCKED not in response.text:
            stats.acknowledged[marker] = via
        else:
            stats.refused[marker] = via
            stats.failures.append((f"POST {via}", response.status_code, response.text[:300]))
        k += 1


def _report(stats, elapsed, ingest_seconds, ingest_rows, server_locked) -> str:
    read_ms = [latency * 1000 for latency, _ in stats.reads]
    write_ms = [latency * 1000 for latency, _ in stats.writes]
    total = len(stats.reads) + len(stats.writes)
    vias = Counter(stats.acknowledged.values())
    five = sum(n for s, n in stats.statuses.items() if s >= 500)
    lines = [
        f"shequ load test: {READERS} readers, {WRITERS} staff writers, one ingest of {ingest_rows} rows;"
        f" reads for {stats.read_seconds:.1f} s, writes for {elapsed:.1f} s (loopback, `shequ serve`)",
        "",
        f"{'':24}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}",
        f"{'reads':24}{len(stats.reads):>10}{len(stats.reads) / stats.read_seconds:>10.1f}"
        f"{percentile(read_ms, 50):>10.0f}{percentile(read_ms, 95):>10.0f}"
        f"{percentile(read_ms, 99):>10.0f}{max(read_ms, default=0):>10.0f}",
        f"{'writes':24}{len(stats.writes):>10}{len(stats.writes) / elapsed:>10.1f}"
        f"{percentile(write_ms, 50):>10.0f}{percentile(write_ms, 95):>10.0f}"
        f"{percentile(write_ms, 99):>10.0f}{max(write_ms, default=0):>10.0f}",
        f"{'all':24}{total:>10}{total / max(elapsed, stats.read_seconds):>10.1f}",
        "",
        f"statuses: {dict(sorted(stats.statuses.items()))}",
        f"5xx: {five}; '{LOCKED}' in responses: {stats.locked}; in the server log: {server_locked}",
        f"writes acknowledged: {len(stats.acknowledged)} (forms {vias['form']}, API {vias['api']}),"
        f" refused: {len(stats.refused)}",
        f"ingest: {ingest_rows} rows in {ingest_seconds:.1f} s while under load (started at {INGEST_AFTER:.0f} s;"
        f" staff writes wait for it: see the writes' max)",
    ]
    return "\n".join(lines) + "\n"


async def test_load_readers_writers_and_an_ingest(data_dir, tmp_path):
    # Preparation, before the clock: the ledger, its residents, the accounts.
    _generator()(tmp_path / "gen", disbursements=INGEST_ROWS, persons=4000)
    _ingest_in_process(data_dir, tmp_path / "gen" / "01_registry.csv")
    conn = accounts.connect(datadir.accounts_db(data_dir))
    for n in range(WRITERS):
        accounts.add_user(conn, f"load{n}", "staff", PASSWORD)
    conn.close()
    db_path = datadir.community_db(data_dir)
    conn = sqlite3.connect(db_path)
    people = conn.execute("SELECT id, community_id FROM persons ORDER BY id LIMIT 300").fetchall()
    disbursement_ids = [i for (i,) in conn.execute("SELECT id FROM disbursements ORDER BY id LIMIT 200")]
    before = conn.execute("SELECT count(*) FROM disbursements").fetchone()[0]
    conn.close()
    rng = random.Random(SEED)
    pages = [("anonymous", p) for p in PUBLIC_PAGES] + [
        ("viewer", p.format(person=rng.choice(people)[0], disbursement=rng.choice(disbursement_ids)))
        for p in STAFF_PAGES for _ in range(3 if "{" in p else 1)]

    port = free_port()
    log = tmp_path / "serve.log"
    server = start_server(data_dir, port, log)
    base = f"http://127.0.0.1:{port}"
    timeout = httpx.Timeout(600.0)
    # Idle connections are dropped by the client before uvicorn's 5 s keep-alive closes
    # them, so a request never races the server's close (browsers retry those; we do not).
    limits = httpx.Limits(max_connections=READERS, max_keepalive_connections=READERS, keepalive_expiry=2.0)
    clients = {"anonymous": httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits),
               "viewer": httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits)}
    staff = [httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) for _ in range(WRITERS)]
    stats = Stats()
    ingest, importing, writing = {}, None, None
    try:
        await _login(clients["viewer"], "viewer1")
        for n, client in enumerate(staff):
            await _login(client, f"load{n}")
        for role, path in pages:  # every page answers before the load starts
            response = await clients[role].get(path)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])

        started = time.monotonic()
        deadline = started + DURATION

        async def run_ingest():  # a few seconds in, so the report has writes before it too
            await asyncio.sleep(INGEST_AFTER)
            ingest["started"] = time.monotonic()
            ingest["proc"] = proc = _cli("ingest", tmp_path / "gen" / "02_disbursements.csv",
                                         "--db-dir", data_dir, log=tmp_path / "ingest.log")
            ingest["code"] = await asyncio.to_thread(proc.wait, 600)
            ingest["seconds"] = time.monotonic() - ingest["started"]

        importing = asyncio.create_task(run_ingest())
        writing = asyncio.gather(*(writer(n, staff[n], people, stats, deadline) for n in range(WRITERS)))
        await asyncio.gather(*(reader(n, clients, pages, stats, deadline) for n in range(READERS)))
        stats.read_seconds = time.monotonic() - started
        await writing  # a write waiting for the import ends when the import commits
        elapsed = time.monotonic() - started
        await importing
        ingest_code, ingest_seconds = ingest["code"], ingest["seconds"]
    finally:
        for task in (importing, writing):
            if task is not None and not task.done():
                task.cancel()
        if "proc" in ingest and ingest["proc"].poll() is None:
            ingest["proc"].kill()
            ingest["proc"].wait()
        for client in [*clients.values(), *staff]:
            await client.aclose()
        server.terminate()
        try:
            server.wait(timeout=30)
        except Exception:  # noqa: BLE001
            server.kill()
            server.wait()

    server_locked = log.read_text(errors="replace").count(LOCKED)
    report = _report(stats, elapsed, ingest_seconds, INGEST_ROWS, server_locked)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(report, encoding="utf-8")
    print("\n" + report)

    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        saved = Counter(dict(conn.execute(
            "SELECT purpose, count(*) FROM visits WHERE purpose LIKE 'load-%' GROUP BY purpose").fetchall()))
        audited = conn.execute(
            "SELECT count(*) FROM visits v JOIN audit_log a ON a.table_name = 'visits' AND a.row_id = v.id"
            " AND a.action = 'insert' WHERE v.purpose LIKE 'load-%'").fetchone()[0]
        after = conn.execute("SELECT count(*) FROM disbursements").fetchone()[0]
        imported = conn.execute("SELECT rows_added FROM imports WHERE file_name = '02_disbursements.csv'"
                                " AND kind = 'disbursements'").fetchall()
    finally:
        conn.close()

    assert not stats.failures, stats.failures[:10]
    assert sum(n for s, n in stats.statuses.items() if s >= 500) == 0
    assert stats.locked == 0 and server_locked == 0
    assert ingest_code == 0, (tmp_path / "ingest.log").read_text()
    assert imported == [(INGEST_ROWS,)] and after == before + INGEST_ROWS
    lost = set(stats.acknowledged) - set(saved)
    assert not lost, f"{len(lost)} acknowledged writes lost: {sorted(lost)[:10]}"
    assert not [m for m, n in saved.items() if n != 1], "a write saved twice"
    assert not set(saved) & set(stats.refused), "a refused write was saved"
    assert set(saved) <= set(stats.acknowledged) | set(stats.unknown)
    assert audited == len(saved)
    assert len(stats.acknowledged) >= WRITERS and len(stats.reads) >= READERS


def test_ingest_waits_for_another_writer_instead_of_failing(data_dir, tmp_path):
    """An import that starts while a form save (or any writer) holds the write lock waits
    for it (the busy timeout) instead of failing at once with "database is locked" - which
    a deferred transaction that reads before it writes would do, whatever the timeout."""
    _generator()(tmp_path / "gen", disbursements=200, persons=50, communities=2, years=3)
    db_path = datadir.community_db(data_dir)
    holder = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE _held (x)")
    released = threading.Timer(1.0, lambda: holder.execute("ROLLBACK"))
    released.start()
    try:
        started = time.monotonic()
        db = schema.connect(db_path)
        reports = load_files(db, [tmp_path / "gen" / "01_registry.csv"], actor="测试")
        waited = time.monotonic() - started
        db.close()
    finally:
        released.join()
        holder.close()
    assert [r.written for r in reports] == [True] and reports[0].added == 50
    assert waited >= 0.9
