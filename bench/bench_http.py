"""Summary stored queries over HTTP: shequ vs stock Datasette, side by side in one run.

    python bench/bench_http.py --data /tmp/bench/100k          # a data dir with community.db

Starts `shequ serve` and a stock `datasette` (same file, no plugins, no config) on loopback,
then for every summary measures p50 with one client and requests/s at concurrency 8:
shequ's stored query, the same GROUP BY as ad-hoc SQL on stock Datasette, and the first
JSON page of `disbursements` (Datasette's per-request floor). Prints a table.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
QUERIES = yaml.safe_load((ROOT / "datasette.yaml").read_text())["databases"]["community"]["queries"]
SUMMARIES = ["relief_by_category", "relief_by_program", "relief_by_month", "relief_by_community",
             "coverage", "election_turnout", "committee_composition"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


async def measure(client, url, headers, n_single=30, concurrency=8, seconds=5.0):
    latencies = []
    for _ in range(n_single):
        t = time.perf_counter()
        r = await client.get(url, headers=headers)
        latencies.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    done = 0
    stop = time.perf_counter() + seconds

    async def worker():
        nonlocal done
        while time.perf_counter() < stop:
            (await client.get(url, headers=headers)).raise_for_status()
            done += 1
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statistics.median(latencies), done / seconds


async def run(data: Path, year: str, seconds: float):
    shequ_port, stock_port = free_port(), free_port()
    env = {**os.environ, "SHEQU_SECRET": "bench"}
    procs = [
        subprocess.Popen([sys.executable, "-m", "ingest.cli", "serve", "--port", str(shequ_port),
                          "--db-dir", str(data)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([shutil.which("datasette"), "serve", str(data / "community.db"), "--port",
                          str(stock_port), "--setting", "sql_time_limit_ms", "10000"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        shequ, stock = f"http://127.0.0.1:{shequ_port}", f"http://127.0.0.1:{stock_port}"
        wait(f"{shequ}/-/login")
        wait(f"{stock}/")
        token = subprocess.run([sys.executable, "-m", "ingest.cli", "token", "create", "bench-admin",
                                "--db-dir", str(data)], capture_output=True, text=True, env=env).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        rows = []
        async with httpx.AsyncClient(timeout=60) as client:
            floor = await measure(client, f"{shequ}/community/disbursements.json?_size=50", headers,
                                  seconds=seconds)
            rows.append(("disbursements first JSON page (floor)", floor, None))
            for name in SUMMARIES:
                params = {"year": year, "community": ""} if "year" in QUERIES[name]["params"] else {"term": "", "community": ""}
                params = {k: v for k, v in params.items() if k in QUERIES[name]["params"]}
                ours = await measure(client, f"{shequ}/community/{name}.json?{urlencode(params)}", headers,
                                     seconds=seconds)
                sql = {"sql": QUERIES[name]["sql"], **{k: v for k, v in params.items()}}
                if "community" in QUERIES[name]["params"]:
                    sql["community"] = ""
                theirs = await measure(client, f"{stock}/community/-/query.json?{urlencode(sql)}", {},
                                       n_single=5, seconds=seconds)
                rows.append((name, ours, theirs))
        print(f"{'query':42} {'shequ p50 ms':>12} {'shequ req/s':>11} {'stock p50 ms':>12} {'stock req/s':>11} {'× stock':>8}")
        for name, ours, theirs in rows:
            if theirs is None:
                print(f"{name:42} {ours[0]:12.1f} {ours[1]:11.1f}")
            else:
                print(f"{name:42} {ours[0]:12.1f} {ours[1]:11.1f} {theirs[0]:12.1f} {theirs[1]:11.1f} "
                      f"{ours[1] / theirs[1]:8.1f}")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--year", default="2020")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    asyncio.run(run(args.data, args.year, args.seconds))


if __name__ == "__main__":
    main()
