"""Full export of every disbursement: shequ's CSV for Excel and .xlsx vs stock Datasette's
streamed CSV vs the floor (`sqlite3 -csv`), with the server's memory before, during, after.

    python bench/bench_export.py --data /tmp/shequ-bench/1000000/data
    python bench/bench_export.py --data D --runs 5 --json /tmp/export.json

Starts `shequ serve` on the data dir and a stock `datasette serve` on the same community.db
(`--setting max_csv_mb 0`, so its stream is not cut at 100 MB), then --runs times, in turn:

  shequ CSV   GET /community/disbursements.excel_csv   (UTF-8 BOM CSV for Excel, full result)
  shequ xlsx  GET /community/disbursements.xlsx
  stock CSV   GET /community/disbursements.csv?_stream=on   on stock Datasette
  floor       sqlite3 -csv -header community.db 'select * from disbursements'
              (Debian's sqlite3 CLI; if it is missing, the same through Python's sqlite3 module
              and csv writer, and the table says so)

Each body is read to the end and its lines counted (every CSV must have the table's rows + a
header). While a download runs, the server's RSS is sampled every 50 ms.

Targets (issue 6): shequ CSV ≥ 5 × faster than stock's streamed CSV, ≤ 4 × the floor; server
memory constant (the table shows RSS before, peak during and after each export).
"""
from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as c  # noqa: E402

TARGET_STOCK_X, TARGET_FLOOR_RATIO = 5.0, 4.0
MEMORY_GROWTH_MB = 64.0  # this bench's reading of "constant": the peak stays within this of before

PY_FLOOR = r"""
import csv, sqlite3, sys
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
cur = conn.execute("select * from disbursements")
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow([d[0] for d in cur.description])
while rows := cur.fetchmany(5000):
    out.writerows(rows)
"""


class RssSampler:
    def __init__(self, pid, every=0.05):
        self.pid, self.every, self.peak = pid, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, c.rss_mb(self.pid).get("VmRSS", 0.0))
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def download(client: httpx.Client, url: str, server: c.Server) -> dict:
    before = server.rss().get("VmRSS")
    with RssSampler(server.proc.pid) as sampler:
        started = time.perf_counter()
        size = lines = 0
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code} for {url}: {response.read()[:300]!r}")
            first = b""
            for chunk in response.iter_raw(1 << 20):
                if not first:
                    first = chunk[:4]
                size += len(chunk)
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    time.sleep(0.5)  # let the server drop what it held
    after = server.rss().get("VmRSS")
    return {"seconds": seconds, "bytes": size, "lines": lines, "rss_before_mb": before,
            "rss_peak_mb": max(sampler.peak, before or 0, after or 0), "rss_after_mb": after,
            "starts_with": first.hex()}


def floor_command(db_path: Path) -> tuple[list, str]:
    exe = shutil.which("sqlite3")
    sql = "select * from disbursements"
    if exe:
        return [exe, "-csv", "-header", "-readonly", str(db_path), sql], f"sqlite3 -csv ({exe})"
    return ([sys.executable, "-c", PY_FLOOR, str(db_path)],
            "no sqlite3 CLI on this machine: Python sqlite3 module + csv writer instead")


def floor(cmd) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    size = lines = 0
    while chunk := proc.stdout.read(1 << 20):
        size += len(chunk)
        lines += chunk.count(b"\n")
    err = proc.stderr.read()
    code = proc.wait()
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"floor exited {code}: {err[-500:]!r}")
    return {"seconds": seconds, "bytes": size, "lines": lines}


def bench(data: Path, runs: int, start_timeout: float, logs: Path) -> dict:
    db_path = data / "community.db"
    token = c.admin_token(data)
    shequ = c.Server.shequ(data, logs / "export-shequ.log")
    stock = c.Server.stock(db_path, logs / "export-stock.log", settings=(("max_csv_mb", 0),))
    cmd, floor_label = floor_command(db_path)
    kinds = ("shequ_csv", "shequ_xlsx", "stock_csv", "floor")
    result = {"data": str(data), "runs": runs, "floor": floor_label, "floor_cmd": cmd, "errors": {},
              "samples": {k: [] for k in kinds}}
    try:
        c.log(f"starting shequ serve and stock datasette on {data}")
        shequ.start(start_timeout)
        stock.start(start_timeout)
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        result["rows"] = conn.execute("SELECT count(*) FROM disbursements").fetchone()[0]
        conn.close()
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=shequ.base, headers=auth, timeout=httpx.Timeout(3600.0)) as ours, \
                httpx.Client(base_url=stock.base, timeout=httpx.Timeout(3600.0)) as theirs:
            ours.get("/community/disbursements.json").raise_for_status()  # warm both up
            theirs.get("/community/disbursements.json").raise_for_status()
            result["shequ_rss_idle_mb"] = shequ.rss()
            jobs = {"shequ_csv": lambda: download(ours, "/community/disbursements.excel_csv", shequ),
                    "shequ_xlsx": lambda: download(ours, "/community/disbursements.xlsx", shequ),
                    "stock_csv": lambda: download(theirs, "/community/disbursements.csv?_stream=on", stock),
                    "floor": lambda: floor(cmd)}
            for n in range(1, runs + 1):
                for kind, job in jobs.items():
                    if kind in result["errors"]:
                        continue
                    try:
                        sample = job()
                    except Exception as e:  # noqa: BLE001 - recorded, the others go on
                        result["errors"][kind] = str(e)[:500]
                        c.log(f"  run {n}/{runs}: {kind} FAILED: {e}")
                        continue
                    result["samples"][kind].append(sample)
                    c.log(f"  run {n}/{runs}: {kind} {sample['seconds']:.2f} s, {sample['bytes'] / 1e6:.0f} MB,"
                          f" {sample['lines']:,} lines"
                          + (f", server RSS {c.fmt(sample['rss_before_mb'], 0)} → peak "
                             f"{c.fmt(sample['rss_peak_mb'], 0)} → {c.fmt(sample['rss_after_mb'], 0)} MB"
                             if "rss_peak_mb" in sample else ""))
            result["shequ_rss_end_mb"] = shequ.rss()
    finally:
        shequ.stop()
        stock.stop()
    med = {}
    for kind, samples in result["samples"].items():
        if samples:
            med[kind] = {"seconds": c.median([s["seconds"] for s in samples]), "bytes": samples[-1]["bytes"],
                         "lines": samples[-1]["lines"]}
            if "rss_peak_mb" in samples[0]:
                med[kind]["rss_before_mb"] = samples[0]["rss_before_mb"]
                med[kind]["rss_peak_mb"] = max(s["rss_peak_mb"] for s in samples)
                med[kind]["rss_after_mb"] = samples[-1]["rss_after_mb"]
                med[kind]["growth_mb"] = med[kind]["rss_peak_mb"] - (samples[0]["rss_before_mb"] or 0)
            if kind != "shequ_xlsx":
                med[kind]["complete"] = samples[-1]["lines"] == result["rows"] + 1
    result["median"] = med
    csv_s = med.get("shequ_csv", {}).get("seconds")
    result["x_stock"] = med["stock_csv"]["seconds"] / csv_s if csv_s and "stock_csv" in med else None
    result["x_floor"] = csv_s / med["floor"]["seconds"] if csv_s and "floor" in med else None
    result["pass"] = {
        "x_stock": None if result["x_stock"] is None else result["x_stock"] >= TARGET_STOCK_X,
        "x_floor": None if result["x_floor"] is None else result["x_floor"] <= TARGET_FLOOR_RATIO,
        "memory_csv": (med["shequ_csv"]["growth_mb"] <= MEMORY_GROWTH_MB) if "shequ_csv" in med else None,
        "memory_xlsx": (med["shequ_xlsx"]["growth_mb"] <= MEMORY_GROWTH_MB) if "shequ_xlsx" in med else None,
    }
    return result


LABELS = {"shequ_csv": "shequ .excel_csv", "shequ_xlsx": "shequ .xlsx", "stock_csv": "stock .csv?_stream=on",
          "floor": "floor"}


def report(r: dict, markdown=False) -> str:
    med, rows = r["median"], []
    csv_s = med.get("shequ_csv", {}).get("seconds")
    for kind, label in LABELS.items():
        m = med.get(kind)
        if m is None:
            rows.append([label, "—", "—", "—", "—", "—", "ERROR: " + r["errors"].get(kind, "no sample")[:90]])
            continue
        rel = ""
        if kind == "stock_csv" and csv_s:
            rel = f"shequ CSV is {r['x_stock']:.1f}× faster (≥5): {c.verdict(r['pass']['x_stock'])}"
        elif kind == "floor" and csv_s:
            rel = f"shequ CSV is {r['x_floor']:.2f}× the floor (≤4): {c.verdict(r['pass']['x_floor'])}"
        elif kind == "shequ_csv":
            rel = f"memory: {c.verdict(r['pass']['memory_csv'])}"
        elif kind == "shequ_xlsx":
            rel = f"memory: {c.verdict(r['pass']['memory_xlsx'])}"
        rss = (f"{c.fmt(m['rss_before_mb'], 0)} → {c.fmt(m['rss_peak_mb'], 0)} → {c.fmt(m['rss_after_mb'], 0)}"
               if "rss_peak_mb" in m else "")
        complete = {True: "yes", False: "NO"}.get(m.get("complete"), "")
        rows.append([label, c.fmt(m["seconds"], 2), c.fmt(m["bytes"] / 1e6, 1), complete,
                     c.fmt(r["rows"] / m["seconds"], 0), rss, rel])
    out = [c.table(["export of disbursements", "s", "MB", "all rows", "rows/s",
                    "server RSS MB before → peak → after", "vs shequ CSV"], rows, markdown), "",
           f"{r['rows']:,} rows; median of {r['runs']} runs; floor: {r['floor']}; memory PASS = peak within "
           f"{MEMORY_GROWTH_MB:.0f} MB of the RSS before the export (sampled every 50 ms)."]
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a data dir with community.db")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--start-timeout", type=float, default=1800.0)
    parser.add_argument("--logs", type=Path, default=c.WORK / "logs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = bench(args.data.resolve(), args.runs, args.start_timeout, args.logs)
    print()
    print(report(result))
    c.write_json(args.json, result)
    if not any(result["samples"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
