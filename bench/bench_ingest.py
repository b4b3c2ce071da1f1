"""`shequ ingest` of a disbursement ledger vs the SQLite floor vs the sqlite-utils CLI.

    python bench/bench_ingest.py --size 1000000            # 3 runs, median
    python bench/bench_ingest.py --size 100000 --runs 5 --json /tmp/ingest.json

Generates (or reuses) the ledgers with bench/generate.py under $SHEQU_BENCH_WORK/N
(default /tmp/shequ-bench/N), loads the registry (居民名册) once into a template data dir
with `shequ ingest --db-dir`, then for every run, side by side:

  shequ       `python -m ingest.cli ingest 02_disbursements.csv --db-dir <fresh copy>` as a
              child process: wall time, and the child's own peak RSS (its VmHWM after exec);
  raw         the same rows, parsed before the clock into ready tuples (person_id,
              program_id and community_id resolved through dicts read from the database),
              inserted with one executemany in one transaction into `disbursements` of a
              fresh copy with every trigger on `disbursements` dropped (same table, same
              indexes; audit log and search index triggers gone) and the same page cache
              as shequ's bulk writer (ingest.writers.CACHE_KIB) - the SQLite floor;
  sqlite-utils `sqlite-utils insert x.db t 02_disbursements.csv --csv` into an empty file.

Targets (issue 6): shequ ≤ 4 × raw, ≥ 5 × faster than sqlite-utils, peak RSS ≤ 250 MB
(the same at 5M rows as at 1M).

--loaded-dir DIR keeps the data dir of the last shequ run and loads the remaining ledgers
(visits, elections, candidates) into it: the data dir the other benches use.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as c  # noqa: E402
from ingest.writers import CACHE_KIB  # noqa: E402  (benchlib put the project on the path)

TARGET_RATIO, TARGET_SPEEDUP, TARGET_RSS_MB = 4.0, 5.0, 250.0
COLUMNS = ("paid_on", "community_id", "household_no", "person_id", "program_id", "method", "goods",
           "amount_yuan", "handler", "note")


def parse_rows(csv_path: Path, db_path: Path) -> list[tuple]:
    """The ledger as ready-to-insert tuples, references resolved through dicts."""
    conn = sqlite3.connect(db_path)
    try:
        persons = dict(conn.execute("SELECT id_number, id FROM persons"))
        programs = dict(conn.execute("SELECT name, id FROM programs"))
        communities = dict(conn.execute("SELECT name, id FROM communities"))
    finally:
        conn.close()
    intern: dict = {}

    def s(value):  # share repeated strings (dates, households, methods) to keep memory small
        if not value:
            return None
        return intern.setdefault(value, value)
    rows = []
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        at = {h: i for i, h in enumerate(header)}
        i_day, i_comm, i_hh, i_id = at["发放日期"], at["社区"], at["户号"], at["身份证号"]
        i_prog, i_method, i_goods, i_amount, i_handler = (at["项目"], at["方式"], at["物品"],
                                                          at["金额(元)"], at["经办人"])
        for r in reader:
            amount = r[i_amount]
            rows.append((s(r[i_day]), communities[r[i_comm]], s(r[i_hh]), persons[r[i_id]],
                         programs[r[i_prog]], s(r[i_method]), s(r[i_goods]),
                         float(amount) if amount else None, s(r[i_handler]), None))
    return rows


def raw_insert(db_path: Path, rows: list[tuple]) -> tuple[float, list[str]]:
    """Drop every trigger on disbursements, then time one executemany in one transaction."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute(f"PRAGMA cache_size = {-CACHE_KIB}")  # as shequ's bulk writer has
    try:
        dropped = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'disbursements'")]
        for name in dropped:
            conn.execute(f'DROP TRIGGER "{name}"')
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sql = (f"INSERT INTO disbursements ({', '.join(COLUMNS)})"
               f" VALUES ({', '.join('?' * len(COLUMNS))})")
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        added = conn.execute("SELECT count(*) FROM disbursements").fetchone()[0]
    finally:
        conn.close()
    if added != len(rows):
        raise RuntimeError(f"raw insert: {added} rows in the table, expected {len(rows)}")
    return seconds, dropped


def sqlite_utils_cmd() -> list[str]:
    exe = shutil.which("sqlite-utils")
    return [exe] if exe else [sys.executable, "-m", "sqlite_utils"]


def count_rows(db_path: Path, table: str) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    finally:
        conn.close()


def bench(size: int, runs: int, work: Path, loaded_dir: Path | None, timeout: float,
          persons: int | None = None, budget: float = float("inf")) -> dict:
    ledger = c.ledgers(size, persons, work)
    base = ledger.parent
    csv_path = ledger / "02_disbursements.csv"
    rows_in_file = c.count_lines(csv_path)
    template = base / "template"
    c.log(f"ingest bench {size}: loading the registry into {template}")
    registry = c.build_template(ledger, template)
    n_persons = count_rows(template / "community.db", "persons")
    c.log(f"  registry: {n_persons} persons in {registry.seconds:.1f} s, peak RSS {registry.peak_rss_mb:.0f} MB")

    c.log("  parsing the ledger for the raw insert (not timed)")
    t = time.perf_counter()
    rows = parse_rows(csv_path, template / "community.db")
    c.log(f"  parsed {len(rows)} rows in {time.perf_counter() - t:.1f} s")

    result = {"size": size, "rows": rows_in_file, "persons": n_persons, "runs": [],
              "registry_seconds": registry.seconds, "registry_peak_rss_mb": registry.peak_rss_mb,
              "file_mb": csv_path.stat().st_size / 1e6}
    scratch = base / "scratch"
    for n in c.budgeted_runs(runs, budget, result):
        run = {}
        # (a) shequ ingest, a child process on a fresh copy of the template
        target = scratch / "shequ"
        c.copy_dir(template, target)
        m = c.ingest(target, csv_path, timeout=timeout)
        if not m.ok:
            raise RuntimeError(f"shequ ingest failed (exit {m.returncode}):\n{m.output[-3000:]}")
        loaded = count_rows(target / "community.db", "disbursements")
        if loaded != rows_in_file:
            raise RuntimeError(f"shequ ingest loaded {loaded} rows, the file has {rows_in_file}")
        run.update(shequ_s=m.seconds, peak_rss_mb=m.peak_rss_mb)
        c.log(f"  run {n}/{runs}: shequ ingest {m.seconds:.2f} s, peak RSS {m.peak_rss_mb:.0f} MB")
        if loaded_dir is not None:  # the latest run's data dir is kept for the other benches
            shutil.rmtree(loaded_dir, ignore_errors=True)
            loaded_dir.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(target), str(loaded_dir))
        else:
            shutil.rmtree(target, ignore_errors=True)

        # (b) raw executemany, the floor
        target = scratch / "raw"
        c.copy_dir(template, target)
        run["raw_s"], dropped = raw_insert(target / "community.db", rows)
        shutil.rmtree(target, ignore_errors=True)
        c.log(f"  run {n}/{runs}: raw executemany {run['raw_s']:.2f} s ({len(dropped)} triggers dropped)")
        result["dropped_triggers"] = dropped

        # (c) the sqlite-utils CLI on the same file, into an empty database
        target = scratch / "sqlite-utils"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        m = c.run_measured([*sqlite_utils_cmd(), "insert", target / "x.db", "t", csv_path, "--csv"],
                           timeout=timeout)
        if not m.ok:
            raise RuntimeError(f"sqlite-utils insert failed (exit {m.returncode}):\n{m.output[-3000:]}")
        got = count_rows(target / "x.db", "t")
        shutil.rmtree(target, ignore_errors=True)
        if got != rows_in_file:
            raise RuntimeError(f"sqlite-utils inserted {got} rows, the file has {rows_in_file}")
        run.update(sqlite_utils_s=m.seconds, sqlite_utils_rss_mb=m.peak_rss_mb)
        c.log(f"  run {n}/{runs}: sqlite-utils insert {m.seconds:.2f} s")
        result["runs"].append(run)
    del rows
    shutil.rmtree(scratch, ignore_errors=True)
    if loaded_dir is not None:
        c.log(f"  keeping the last run's data dir as {loaded_dir}; loading visits and elections into it")
        c.complete_data_dir(loaded_dir, ledger)

    med = {k: c.median([r[k] for r in result["runs"]]) for k in result["runs"][0]}
    result["median"] = med
    result["max_peak_rss_mb"] = max(r["peak_rss_mb"] for r in result["runs"])
    result["ratio"] = med["shequ_s"] / med["raw_s"]
    result["speedup"] = med["sqlite_utils_s"] / med["shequ_s"]
    result["rows_per_s"] = rows_in_file / med["shequ_s"]
    result["us_per_row"] = med["shequ_s"] / max(rows_in_file, 1) * 1e6
    result["pass"] = {"ratio": result["ratio"] <= TARGET_RATIO, "speedup": result["speedup"] >= TARGET_SPEEDUP,
                      "rss": result["max_peak_rss_mb"] <= TARGET_RSS_MB}
    return result


HEADERS = ["rows", "shequ s", "rows/s", "raw s", "ratio (≤4)", "", "sqlite-utils s", "speedup (≥5)", "",
           "peak RSS MB (≤250)", ""]


def table_row(r: dict) -> list[str]:
    m = r["median"]
    return [f"{r['rows']:,}", c.fmt(m["shequ_s"], 2), c.fmt(r["rows_per_s"], 0), c.fmt(m["raw_s"], 2),
            c.fmt(r["ratio"], 2) + "×", c.verdict(r["pass"]["ratio"]), c.fmt(m["sqlite_utils_s"], 2),
            c.fmt(r["speedup"], 2) + "×", c.verdict(r["pass"]["speedup"]), c.fmt(r["max_peak_rss_mb"], 0),
            c.verdict(r["pass"]["rss"])]


def report(r: dict, markdown=False) -> str:
    lines = [c.table(HEADERS, [table_row(r)], markdown=markdown), "",
             f"median of {len(r['runs'])} runs" + (" (stopped early: time budget)" if r.get("budget_stop") else "")
             + f"; persons in the registry: {r['persons']:,}; "
             f"file {r['file_mb']:.0f} MB; registry load {r['registry_seconds']:.1f} s; "
             f"raw = one executemany, one transaction, {len(r.get('dropped_triggers', []))} triggers on "
             f"disbursements dropped, foreign_keys off, the same 32 MB page cache; peak RSS = max over runs "
             f"of the ingest process's own address space (VmHWM after exec, sampled every 20 ms)."]
    per_run = [[str(i + 1), c.fmt(x["shequ_s"], 2), c.fmt(x["raw_s"], 2), c.fmt(x["sqlite_utils_s"], 2),
                c.fmt(x["peak_rss_mb"], 0)] for i, x in enumerate(r["runs"])]
    lines += ["", c.table(["run", "shequ s", "raw s", "sqlite-utils s", "peak RSS MB"], per_run, markdown)]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, required=True, help="disbursements in the ledger")
    parser.add_argument("--persons", type=int, default=None, help="residents (default: the generator's)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=c.WORK)
    parser.add_argument("--loaded-dir", type=Path, default=None,
                        help="keep the last shequ run's data dir here, with every ledger loaded")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per command")
    parser.add_argument("--budget", type=float, default=6 * 3600,
                        help="start no further run once this many seconds are spent (at least one run)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    result = bench(args.size, args.runs, args.work, args.loaded_dir, args.timeout, args.persons, args.budget)
    print(f"\nshequ ingest of {args.size:,} disbursements\n")
    print(report(result))
    c.write_json(args.json, result)


if __name__ == "__main__":
    main()
