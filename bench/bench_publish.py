"""`shequ publish` vs `VACUUM INTO` of the staff database, side by side, median of --runs.

    python bench/bench_publish.py --data /tmp/shequ-bench/5000000/data

Each run: `python -m ingest.cli publish --db-dir DATA` as a child process (wall time, its own
peak RSS), then `VACUUM INTO` of DATA/community.db into a new file beside it (a fresh
sqlite3 connection; the copy is deleted afterwards). public.db in DATA is
replaced by the publish, as `shequ publish` always does.

Target (issue 6): publish ≤ 2 × VACUUM INTO at 5M disbursements.
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as c  # noqa: E402

TARGET_RATIO = 2.0


def vacuum_into(db_path: Path, target: Path) -> float:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    # A read-write connection: VACUUM INTO from a mode=ro one fails on tables with stored
    # generated columns in SQLite 3.40 ("table vacuum_db.disbursements has 11 columns but 12
    # values were supplied"). VACUUM INTO does not write to the source either way.
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        started = time.perf_counter()
        conn.execute("VACUUM INTO ?", [str(target)])
        seconds = time.perf_counter() - started
    finally:
        conn.close()
        target.unlink(missing_ok=True)
    return seconds


def bench(data: Path, runs: int, timeout: float, budget: float) -> dict:
    db_path = data / "community.db"
    c.checkpoint(data)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    rows = conn.execute("SELECT count(*) FROM disbursements").fetchone()[0]
    conn.close()
    result = {"data": str(data), "rows": rows, "db_mb": db_path.stat().st_size / 1e6, "runs": []}
    for n in c.budgeted_runs(runs, budget, result):
        m = c.run_measured(c.shequ("publish", "--db-dir", data), timeout=timeout)
        if not m.ok:
            raise RuntimeError(f"shequ publish exited {m.returncode}:\n{m.output[-3000:]}")
        vac = vacuum_into(db_path, data / "bench-vacuum-into.db")
        result["runs"].append({"publish_s": m.seconds, "publish_peak_rss_mb": m.peak_rss_mb, "vacuum_s": vac})
        result["publish_output"] = m.output.strip()[-500:]
        c.log(f"  run {n}/{runs}: publish {m.seconds:.2f} s (peak RSS {m.peak_rss_mb:.0f} MB), "
              f"VACUUM INTO {vac:.2f} s")
    result["public_mb"] = (data / "public.db").stat().st_size / 1e6 if (data / "public.db").exists() else None
    med = {k: c.median([r[k] for r in result["runs"]]) for k in result["runs"][0]}
    result["median"] = med
    result["ratio"] = med["publish_s"] / med["vacuum_s"]
    result["pass"] = {"ratio": result["ratio"] <= TARGET_RATIO}
    return result


def report(r: dict, markdown=False) -> str:
    m = r["median"]
    rows = [[f"{r['rows']:,}", c.fmt(r["db_mb"], 0), c.fmt(m["publish_s"], 2), c.fmt(m["vacuum_s"], 2),
             c.fmt(r["ratio"], 2) + "×", c.verdict(r["pass"]["ratio"]), c.fmt(m["publish_peak_rss_mb"], 0),
             c.fmt(r["public_mb"], 1)]]
    return "\n".join([
        c.table(["disbursements", "community.db MB", "publish s", "VACUUM INTO s", "ratio (≤2)", "",
                 "publish peak RSS MB", "public.db MB"], rows, markdown), "",
        f"median of {len(r['runs'])} runs"
        + (" (stopped early: time budget)" if r.get("budget_stop") else "") + f"; publish said: {r.get('publish_output', '').splitlines()[-1:] or ['']}"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a data dir with community.db")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per publish")
    parser.add_argument("--budget", type=float, default=3 * 3600,
                        help="start no further run once this many seconds are spent (at least one run)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = bench(args.data.resolve(), args.runs, args.timeout, args.budget)
    print()
    print(report(result))
    c.write_json(args.json, result)


if __name__ == "__main__":
    main()
