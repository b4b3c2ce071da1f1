"""Every benchmark at every size, unattended, and bench/RESULTS.md written from the figures.

    python bench/run_all.py --sizes 100000,1000000,5000000
    python bench/run_all.py --sizes 100000 --runs 3 --out /tmp/RESULTS.md

For each size N (disbursements; the generator's other proportions): the ledgers
(bench/generate.py, cached under $SHEQU_BENCH_WORK/N, default /tmp/shequ-bench/N), then

  ingest    bench/bench_ingest.py   (keeps its last run's data dir, every ledger loaded, as N/data)
  http      bench/bench_http.py     (summaries, table pages, search) on N/data
  export    bench/bench_export.py   on N/data
  publish   bench/bench_publish.py  on N/data
  mixed     bench/bench_mixed.py    on a copy of N/data (then `shequ check`)

and once, --search-persons residents (default 1,000,000) in a registry-only data dir:
bench_http.py --only search. Each step is a child process with a timeout; a step that fails
is recorded as failed with the end of its output and the rest go on. RESULTS.md is rewritten
after every step, so an interrupted run still leaves what it measured. Progress goes to the
terminal; every step's full output to $SHEQU_BENCH_WORK/logs/.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as c  # noqa: E402

STEPS = ("ingest", "http", "export", "publish", "mixed", "search")


# ------------------------------------------------------------------ running steps

class Runner:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.logs = self.work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.steps: list[dict] = []  # {"size", "step", "cmd", "ok", "seconds", "error", "json", "output"}
        self.started = datetime.datetime.now().astimezone()
        self.finished = False
        self.machine = machine()
        self.git = git_state()
        self.command = "python " + " ".join(shlex.quote(_rel(a)) for a in [Path(sys.argv[0]).resolve(), *sys.argv[1:]])

    def run_step(self, size, step, cmd, json_path: Path | None, timeout: float):
        """A bench script as a child: its output to the terminal (indented) and to a log."""
        display = " ".join(shlex.quote(str(a)) for a in ["python", *[_rel(a) for a in cmd[1:]]])
        c.log(f"[{size}] {step}: {display}")
        record = {"size": size, "step": step, "cmd": display, "ok": False, "error": None, "json": None}
        if json_path:
            json_path.unlink(missing_ok=True)
        log_path = self.logs / f"{size}-{step}.log"
        started = time.monotonic()
        output = []
        try:
            with open(log_path, "w") as log:
                proc = subprocess.Popen([str(a) for a in cmd], cwd=c.ROOT, env=c.env(), stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
                deadline = started + timeout
                import selectors
                sel = selectors.DefaultSelector()
                sel.register(proc.stdout, selectors.EVENT_READ)
                timed_out = False
                while True:
                    if time.monotonic() > deadline:
                        timed_out = True
                        proc.kill()
                        break
                    if not sel.select(timeout=1.0):
                        if proc.poll() is not None:
                            break
                        continue
                    line = proc.stdout.readline()
                    if not line:
                        break
                    log.write(line)
                    log.flush()
                    output.append(line)
                    print("    " + line, end="", flush=True)
                code = proc.wait()
            record["ok"] = code == 0 and not timed_out
            if timed_out:
                record["error"] = f"timed out after {timeout:.0f} s"
            elif code != 0:
                record["error"] = f"exit {code}: " + "".join(output)[-1500:].strip()
        except Exception as e:  # noqa: BLE001 - recorded, the run goes on
            record["error"] = f"{type(e).__name__}: {e}"
        record["seconds"] = time.monotonic() - started
        record["output"] = "".join(output)
        if json_path and json_path.exists():
            try:
                record["json"] = json.loads(json_path.read_text())
            except ValueError as e:
                record["error"] = (record["error"] or "") + f" (unreadable JSON: {e})"
        c.log(f"[{size}] {step}: {'ok' if record['ok'] else 'FAILED'} in {record['seconds']:.0f} s"
              + (f" - {record['error'][:300]}" if record["error"] else ""))
        self.steps.append(record)
        self.write()
        return record

    def run_inline(self, size, step, fn):
        """A preparation done in this process (ledgers, data dirs), recorded the same way."""
        c.log(f"[{size}] {step}")
        started = time.monotonic()
        record = {"size": size, "step": step, "cmd": "", "ok": False, "error": None, "json": None, "output": ""}
        try:
            value = fn()
            record["ok"] = True
        except Exception as e:  # noqa: BLE001
            value = None
            record["error"] = f"{type(e).__name__}: {e}"[-1500:]
            c.log(f"[{size}] {step}: FAILED - {record['error'][:300]}")
        record["seconds"] = time.monotonic() - started
        self.steps.append(record)
        self.write()
        return value

    def result(self, size, step):
        for record in reversed(self.steps):
            if record["size"] == size and record["step"] == step:
                return record
        return None

    def write(self):
        try:
            text = render(self)
            self.args.out.parent.mkdir(parents=True, exist_ok=True)
            self.args.out.write_text(text, encoding="utf-8")
            (self.work / "results.json").write_text(json.dumps(
                [{k: v for k, v in s.items() if k != "output"} for s in self.steps],
                ensure_ascii=False, indent=1, default=str))
        except Exception as e:  # noqa: BLE001 - never lose the run over the report
            c.log(f"could not write {self.args.out}: {type(e).__name__}: {e}")


def _rel(arg) -> str:
    s = str(arg)
    root = str(c.ROOT) + os.sep
    return s[len(root):] if s.startswith(root) else s


def bench_cmd(script, *args):
    return [sys.executable, c.BENCH / script, *map(str, args)]


def run_size(runner: Runner, size: int):
    a = runner.args
    base = runner.work / str(size)
    results = base / "results"
    results.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    ledger = runner.run_inline(size, "ledgers", lambda: c.ledgers(size, work=runner.work))
    if ledger is None:
        return

    def wants(step):
        return step in a.steps and (size, step) not in a.skip
    if wants("ingest"):
        shutil.rmtree(data, ignore_errors=True)
        runner.run_step(size, "ingest", bench_cmd("bench_ingest.py", "--size", size, "--runs", a.runs,
                                                  "--work", runner.work, "--loaded-dir", data,
                                                  "--budget", a.ingest_budget,
                                                  "--json", results / "ingest.json"),
                        results / "ingest.json", a.step_timeout)
    if not c.data_dir_complete(data):
        if runner.run_inline(size, "prepare data dir", lambda: c.build_data_dir(ledger, data)) is None:
            return
    if wants("http"):
        only = "summaries,pages" + (",search" if "search" in a.steps else "")
        runner.run_step(size, "http", bench_cmd("bench_http.py", "--data", data, "--runs", a.runs,
                                                "--seconds", a.seconds, "--only", only, "--logs", runner.logs,
                                                "--json", results / "http.json"),
                        results / "http.json", a.step_timeout)
    if wants("export"):
        runner.run_step(size, "export", bench_cmd("bench_export.py", "--data", data, "--runs", a.runs,
                                                  "--logs", runner.logs, "--json", results / "export.json"),
                        results / "export.json", a.step_timeout)
    if wants("publish"):
        runner.run_step(size, "publish", bench_cmd("bench_publish.py", "--data", data, "--runs", a.runs,
                                                   "--budget", a.publish_budget, "--timeout", a.publish_timeout,
                                                   "--json", results / "publish.json"),
                        results / "publish.json", a.step_timeout)
    if wants("mixed"):
        copy = base / "mixed-data"
        if runner.run_inline(size, "copy data dir for mixed", lambda: c.copy_dir(data, copy) or True):
            runner.run_step(size, "mixed", bench_cmd("bench_mixed.py", "--db-dir", copy, "--duration",
                                                     a.mixed_duration, "--logs", runner.logs, "--work",
                                                     runner.work, "--json", results / "mixed.json"),
                            results / "mixed.json", a.step_timeout)
            shutil.rmtree(copy, ignore_errors=True)
    if not a.keep_data:
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(base / "template", ignore_errors=True)


def run_search(runner: Runner, persons: int):
    a = runner.args
    key = f"search-{persons}"
    ledger = runner.run_inline(key, "ledgers", lambda: c.ledgers(0, persons, runner.work))
    if ledger is None:
        return
    data = ledger.parent / "data"
    results = ledger.parent / "results"
    results.mkdir(parents=True, exist_ok=True)

    def prepare():
        if (data / ".bench-complete").exists():
            return data
        shutil.rmtree(data, ignore_errors=True)
        c.build_template(ledger, data)
        (data / ".bench-complete").write_text("registry only")
        return data
    if runner.run_inline(key, "prepare registry-only data dir", prepare) is None:
        return
    runner.run_step(key, "search", bench_cmd("bench_http.py", "--data", data, "--runs", a.runs, "--only", "search",
                                             "--logs", runner.logs, "--json", results / "search.json"),
                    results / "search.json", a.step_timeout)
    if not a.keep_data:
        shutil.rmtree(data, ignore_errors=True)


# ------------------------------------------------------------------ the report

def machine() -> list[tuple[str, str]]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass

    def version(package):
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"
    cli = shutil.which("sqlite3")
    cli_version = "not installed"
    if cli:
        try:
            cli_version = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=10).stdout.split()[0]
        except Exception:  # noqa: BLE001
            cli_version = "?"
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return [("CPU", cpu), ("cores", f"{os.cpu_count()} (usable by this process: {len(os.sched_getaffinity(0))})"),
            ("RAM", ram), ("OS", platform.platform()), ("Python", platform.python_version()),
            ("SQLite (Python module)", sqlite3.sqlite_version), ("sqlite3 CLI", cli_version),
            ("Datasette", version("datasette")), ("sqlite-utils", version("sqlite-utils")),
            ("uvicorn", version("uvicorn")), ("httpx", version("httpx")), ("load average at start", load)]


def git_state() -> str:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=c.ROOT, capture_output=True, text=True,
                                  timeout=30).stdout.rstrip("\n")
        except Exception:  # noqa: BLE001
            return ""
    commit = git("rev-parse", "HEAD").strip() or "unknown (not a git checkout?)"
    subject = git("log", "-1", "--format=%s").strip()
    dirty = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
    out = f"`{commit}` {subject}"
    if dirty:
        out += f" — working tree has {len(dirty)} uncommitted change(s): " + ", ".join(
            f"`{line[3:]}`" for line in dirty[:12]) + (" …" if len(dirty) > 12 else "")
    return out


def _j(runner, size, step):
    r = runner.result(size, step)
    return r["json"] if r and r.get("json") else None


def _cell(runner, size, step, fn, digits=1, suffix=""):
    r = runner.result(size, step)
    if r is None:
        return "—"
    data = r.get("json")
    if not data:
        return "failed" if not r["ok"] else "—"
    try:
        value = fn(data)
    except (KeyError, TypeError, IndexError, ZeroDivisionError):
        return "—"
    if isinstance(value, tuple):
        value, ok = value
        return c.fmt(value, digits) + suffix + (f" {c.verdict(ok)}" if ok is not None else "")
    return c.fmt(value, digits) + suffix if not isinstance(value, str) else value


def _ep(data, section, name, params=""):
    for e in data["endpoints"]:
        if e["section"] == section and e["name"] == name and e["params"] == params:
            return e
    raise KeyError(name)


def render(runner: Runner) -> str:
    a = runner.args
    sizes = a.size_list
    heads = [f"{s:,}" for s in sizes]
    md = []
    now = datetime.datetime.now().astimezone()
    md += ["# shequ benchmarks (issue 6)", "",
           f"Run from {runner.started:%Y-%m-%d %H:%M %Z} to {now:%Y-%m-%d %H:%M %Z}"
           + ("" if runner.finished else " — **in progress or interrupted**") + ".", "",
           "Generated by `bench/run_all.py`; every figure is the median of "
           f"{a.runs} runs measured side by side in the same run. PASS/FAIL against the targets of issue 6.", "",
           "## Machine", "", "| | |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in runner.machine]
    md += [f"| git commit | {runner.git} |", "", "## Commands", "", "```", f"cd {c.ROOT}", runner.command]
    md += [s["cmd"] for s in runner.steps if s["cmd"]]
    md += ["```", "", f"Work directory `{runner.work}`; full logs in `{runner.logs}`.", ""]

    # -- targets at a glance
    md += ["## Targets", ""]
    rows = []

    def target(label, step, fn, size_filter=None):
        row = [label]
        for s in sizes:
            if size_filter and s not in size_filter:
                row.append("")
                continue
            r = runner.result(s, step)
            data = r.get("json") if r else None
            if r is None:
                row.append("—")
            elif not data:
                row.append("failed")
            else:
                try:
                    row.append(fn(data))
                except (KeyError, TypeError, IndexError, ZeroDivisionError, ValueError):
                    row.append("—")
        rows.append(row)

    def all_pass(data, section, key):
        checks = [e["pass"].get(key) for e in data["endpoints"] if e["section"] == section]
        checks = [x for x in checks if x is not None]
        if not checks:
            return "—"
        failed = sum(1 for x in checks if not x)
        return "PASS" if not failed else f"FAIL ({failed}/{len(checks)})"
    target("summary p50 ≤ 20 ms (every summary)", "http", lambda d: all_pass(d, "summaries", "p50"))
    target("summary req/s ≥ 20 × stock GROUP BY (c8)", "http", lambda d: all_pass(d, "summaries", "x_stock"))
    target("summary req/s ≥ 80 % of first JSON page (c8)", "http", lambda d: all_pass(d, "summaries", "floor_share"))
    target("summary rows = plain GROUP BY rows", "http", lambda d: all_pass(d, "summaries", "rows"))
    target("table pages p50 ≤ 100 ms (HTML, JSON, first, deep)", "http", lambda d: all_pass(d, "pages", "p50"))
    target("search p50 ≤ 50 ms", "http", lambda d: all_pass(d, "search", "p50"))
    target("ingest ≤ 4 × raw executemany", "ingest", lambda d: c.verdict(d["pass"]["ratio"]) + f" ({d['ratio']:.2f}×)")
    target("ingest ≥ 5 × faster than sqlite-utils", "ingest",
           lambda d: c.verdict(d["pass"]["speedup"]) + f" ({d['speedup']:.2f}×)")
    target("ingest peak RSS ≤ 250 MB", "ingest", lambda d: c.verdict(d["pass"]["rss"]) + f" ({d['max_peak_rss_mb']:.0f} MB)")
    target("publish ≤ 2 × VACUUM INTO", "publish", lambda d: c.verdict(d["pass"]["ratio"]) + f" ({d['ratio']:.2f}×)")
    target("CSV export ≥ 5 × stock ?_stream=on", "export", lambda d: c.verdict(d["pass"]["x_stock"]) + f" ({d['x_stock']:.1f}×)")
    target("CSV export ≤ 4 × sqlite3 -csv", "export", lambda d: c.verdict(d["pass"]["x_floor"]) + f" ({d['x_floor']:.2f}×)")
    target("export server memory constant (CSV, xlsx)", "export",
           lambda d: f"{c.verdict(d['pass']['memory_csv'])}, {c.verdict(d['pass']['memory_xlsx'])}")
    target("mixed workload, then `shequ check`: no drift", "mixed",
           lambda d: c.verdict(d["pass"]["check"]) + f" ({d['check']['status']})")
    target("mixed workload: the ingest under load succeeds, no 5xx", "mixed",
           lambda d: c.verdict(d["pass"]["ingest"] and d["pass"]["no_5xx"])
           + ("" if d["pass"]["ingest"] else f" (ingest: {d['ingest'].get('error') or 'exit ' + str(d['ingest'].get('returncode'))})"))
    md += [c.table(["target", *heads], rows, markdown=True), ""]
    if a.search_persons:
        key = f"search-{a.search_persons}"
        d = _j(runner, key, "search")
        verdict = all_pass(d, "search", "p50") if d else ("failed" if runner.result(key, "search") else "—")
        md += [f"Search over {a.search_persons:,} persons (registry-only data dir), p50 ≤ 50 ms: **{verdict}**", ""]
    md += ["The size is the number of disbursements; the registry has size/25 residents, visits are 20 % of",
           "the payments, 30 communities over 10 years (bench/generate.py defaults).", ""]

    # -- ingest
    md += ["## Ingest: `shequ ingest` of the disbursement ledger", ""]
    rows = []
    for label, fn, digits, suffix in (
            ("rows", lambda d: d["rows"], 0, ""), ("file MB", lambda d: d["file_mb"], 0, ""),
            ("residents in the registry", lambda d: d["persons"], 0, ""),
            ("shequ ingest s", lambda d: d["median"]["shequ_s"], 2, ""),
            ("shequ rows/s", lambda d: d["rows_per_s"], 0, ""),
            ("raw executemany s", lambda d: d["median"]["raw_s"], 2, ""),
            ("shequ / raw (≤ 4)", lambda d: (d["ratio"], d["pass"]["ratio"]), 2, "×"),
            ("sqlite-utils insert s", lambda d: d["median"]["sqlite_utils_s"], 2, ""),
            ("sqlite-utils / shequ (≥ 5)", lambda d: (d["speedup"], d["pass"]["speedup"]), 2, "×"),
            ("shequ peak RSS MB (≤ 250)", lambda d: (d["max_peak_rss_mb"], d["pass"]["rss"]), 0, ""),
            ("registry load s (not compared)", lambda d: d["registry_seconds"], 1, "")):
        rows.append([label, *[_cell(runner, s, "ingest", fn, digits, suffix) for s in sizes]])
    md += [c.table(["", *heads], rows, markdown=True), "",
           "raw: the same rows parsed beforehand, one `executemany` in one transaction into `disbursements` of a "
           "copy with every trigger on it dropped (same table and indexes, the same 32 MB page cache). Peak RSS: "
           "the ingest process's own VmHWM after exec (not ru_maxrss, which on Linux includes the forking "
           "bench's own size), max over runs.", ""]

    # -- http
    ref = next((_j(runner, s, "http") for s in sizes if _j(runner, s, "http")), None)
    if ref:
        md += ["## Summaries over HTTP (stored queries as JSON)", "",
               "Per size: shequ p50 ms with one client / × stock Datasette's req/s for the same summary as a "
               "plain GROUP BY (concurrency 8) / shequ's req/s as % of the table's first JSON page (concurrency 8).",
               ""]
        rows = []
        floor_row = ["first JSON page of disbursements (floor): p50 ms / req/s c8"]
        for s in sizes:
            d = _j(runner, s, "http")
            try:
                f = _ep(d, "floor", "disbursements first JSON page (floor)")
                floor_row.append(f"{c.fmt(f['p50_ms'])} / {c.fmt(f['rps'], 0)}")
            except (KeyError, TypeError):
                floor_row.append("—")
        for e in (e for e in ref["endpoints"] if e["section"] == "summaries"):
            row = [f"{e['name']} ({e['params']})"]
            for s in sizes:
                d = _j(runner, s, "http")
                try:
                    x = _ep(d, "summaries", e["name"], e["params"])
                except (KeyError, TypeError):
                    row.append("—")
                    continue
                p = x["pass"]
                if x["errors"]:
                    row.append("error")
                    continue
                row.append(f"{c.fmt(x['p50_ms'])} {c.verdict(p.get('p50'))} / "
                           f"{c.fmt(x.get('x_stock'))}× {c.verdict(p.get('x_stock'))} / "
                           f"{c.fmt(100 * x['floor_share'] if x.get('floor_share') else None, 0)}% "
                           f"{c.verdict(p.get('floor_share'))}"
                           + ("" if p.get("rows") in (True, None) else " ROWS DIFFER"))
            rows.append(row)
        rows.append(floor_row)
        md += [c.table(["summary (params)", *heads], rows, markdown=True), ""]
        rows = []
        for e in (e for e in ref["endpoints"] if e["section"] == "summaries"):
            row = [f"{e['name']} ({e['params']})"]
            for s in sizes:
                d = _j(runner, s, "http")
                try:
                    x = _ep(d, "summaries", e["name"], e["params"])
                    st = x.get("stock", {})
                    row.append(f"{c.fmt(x['rps'], 0)} / {c.fmt(st.get('rps'), 2)} / {c.fmt(st.get('p50_ms'))}")
                except (KeyError, TypeError):
                    row.append("—")
            rows.append(row)
        md += ["Raw figures: shequ req/s c8 / stock req/s c8 / stock p50 ms.", "",
               c.table(["summary (params)", *heads], rows, markdown=True), ""]

        md += ["## Staff table page `/community/disbursements` (p50 ms, ≤ 100)", ""]
        rows = []
        for e in (e for e in ref["endpoints"] if e["section"] == "pages"):
            label = e["name"].split(" (?")[0]
            row = [label]
            for s in sizes:
                d = _j(runner, s, "http")
                try:
                    x = next(y for y in d["endpoints"] if y["section"] == "pages" and y["name"].split(" (?")[0] == label)
                    row.append("error" if x["errors"] else
                               f"{c.fmt(x['p50_ms'])} {c.verdict(x['pass'].get('p50'))} "
                               f"(stock {c.fmt(x.get('stock', {}).get('p50_ms'))})")
                except (StopIteration, KeyError, TypeError):
                    row.append("—")
            rows.append(row)
        md += [c.table(["page", *heads], rows, markdown=True), "",
               "Deep page: `?_next=<id in the middle of the table>` (keyset). Stock Datasette on the same file "
               "for reference.", ""]

    search_sets = [(f"{s:,} disbursements", _j(runner, s, "http")) for s in sizes]
    if a.search_persons:
        search_sets.append((f"{a.search_persons:,} persons only", _j(runner, f"search-{a.search_persons}", "search")))
    search_sets = [(k, d) for k, d in search_sets if d and any(e["section"] == "search" for e in d["endpoints"])]
    if search_sets:
        md += ["## Staff search over persons (p50 ms, ≤ 50)", ""]
        kinds = []
        for _, d in search_sets:
            for e in d["endpoints"]:
                if e["section"] == "search":
                    kind = (e["name"].split(" 「")[0], e["params"])
                    if kind not in kinds:
                        kinds.append(kind)
        rows = [["persons in the data dir", *[f"{d['facts']['persons']:,}" for _, d in search_sets]]]
        for kind in kinds:
            row = [f"{kind[0]} ({kind[1]})"]
            for _, d in search_sets:
                x = next((e for e in d["endpoints"] if e["section"] == "search"
                          and (e["name"].split(" 「")[0], e["params"]) == kind), None)
                row.append("—" if x is None else "error" if x["errors"] else
                           f"{c.fmt(x['p50_ms'])} {c.verdict(x['pass'].get('p50'))}"
                           + (f" ({x['note']})" if x.get("note") else ""))
            rows.append(row)
        md += [c.table(["query", *[k for k, _ in search_sets]], rows, markdown=True), ""]

    # -- export
    md += ["## Full export of disbursements", ""]
    rows = []
    for label, fn, digits, suffix in (
            ("rows", lambda d: d["rows"], 0, ""),
            ("shequ .excel_csv s", lambda d: d["median"]["shequ_csv"]["seconds"], 2, ""),
            ("stock .csv?_stream=on s", lambda d: d["median"]["stock_csv"]["seconds"], 2, ""),
            ("floor s", lambda d: d["median"]["floor"]["seconds"], 2, ""),
            ("stock / shequ CSV (≥ 5)", lambda d: (d["x_stock"], d["pass"]["x_stock"]), 1, "×"),
            ("shequ CSV / floor (≤ 4)", lambda d: (d["x_floor"], d["pass"]["x_floor"]), 2, "×"),
            ("shequ .xlsx s", lambda d: d["median"]["shequ_xlsx"]["seconds"], 2, ""),
            ("server RSS MB during CSV: before → peak → after", lambda d: "{:.0f} → {:.0f} → {:.0f}".format(
                d["median"]["shequ_csv"]["rss_before_mb"], d["median"]["shequ_csv"]["rss_peak_mb"],
                d["median"]["shequ_csv"]["rss_after_mb"]), 0, ""),
            ("server RSS MB during xlsx: before → peak → after", lambda d: "{:.0f} → {:.0f} → {:.0f}".format(
                d["median"]["shequ_xlsx"]["rss_before_mb"], d["median"]["shequ_xlsx"]["rss_peak_mb"],
                d["median"]["shequ_xlsx"]["rss_after_mb"]), 0, ""),
            ("every row in each CSV", lambda d: ", ".join(
                f"{k}: {'yes' if v.get('complete') else 'NO'}" for k, v in d["median"].items() if "complete" in v),
             0, ""),
            ("floor", lambda d: d["floor"], 0, "")):
        rows.append([label, *[_cell(runner, s, "export", fn, digits, suffix) for s in sizes]])
    md += [c.table(["", *heads], rows, markdown=True), ""]

    # -- publish
    md += ["## `shequ publish` vs `VACUUM INTO`", ""]
    rows = []
    for label, fn, digits, suffix in (
            ("community.db MB", lambda d: d["db_mb"], 0, ""),
            ("publish s", lambda d: d["median"]["publish_s"], 2, ""),
            ("VACUUM INTO s", lambda d: d["median"]["vacuum_s"], 2, ""),
            ("publish / VACUUM INTO (≤ 2)", lambda d: (d["ratio"], d["pass"]["ratio"]), 2, "×"),
            ("publish peak RSS MB", lambda d: d["median"]["publish_peak_rss_mb"], 0, ""),
            ("runs", lambda d: len(d["runs"]), 0, "")):
        rows.append([label, *[_cell(runner, s, "publish", fn, digits, suffix) for s in sizes]])
    md += [c.table(["", *heads], rows, markdown=True), ""]

    # -- mixed
    md += ["## Mixed workload, then `shequ check`", ""]
    rows = []
    for label, fn, digits, suffix in (
            ("further ledger ingested under load", lambda d: f"{d['ingest_rows']:,} rows in "
             f"{d['ingest'].get('seconds', 0):.1f} s (exit {d['ingest'].get('returncode')})"
             + (f": {d['ingest']['error']}" if d["ingest"].get("error") else ""), 0, ""),
            ("writes audited", lambda d: f"{sum(x[3] for x in d.get('audited', []) if x[0] != '命令行导入'):,}"
             " (forms, API, restores)", 0, ""),
            ("5xx / 'database is locked'", lambda d: f"{d['five_xx']} / {d['locked']}", 0, ""),
            ("unexpected answers", lambda d: str(d["failure_count"]), 0, ""),
            ("shequ check", lambda d: f"{d['check']['status']} (exit {d['check']['returncode']})", 0, ""),
            ("check said", lambda d: (d["check"]["output"].strip().splitlines() or ["(nothing)"])[-1][:160], 0, "")):
        rows.append([label, *[_cell(runner, s, "mixed", fn, digits, suffix) for s in sizes]])
    md += [c.table(["", *heads], rows, markdown=True), ""]

    # -- cost curve
    md += ["## Cost curve", "", "Each figure, and in the last column the ratio largest size / smallest size "
           "(flat = 1; linear = the size ratio).", ""]
    rows = []

    def summary_p50(d, how):
        values = [e["p50_ms"] for e in d["endpoints"] if e["section"] == "summaries" and e["p50_ms"] is not None]
        return (sorted(values)[len(values) // 2] if how == "median" else max(values)) if values else None

    def page(d, label):
        return next(e["p50_ms"] for e in d["endpoints"] if e["section"] == "pages" and e["name"].startswith(label))
    curve = [
        ("summary p50 ms, median over summaries", "http", lambda d: summary_p50(d, "median"), 1),
        ("summary p50 ms, slowest summary", "http", lambda d: summary_p50(d, "max"), 1),
        ("JSON first page p50 ms", "http", lambda d: page(d, "JSON first"), 1),
        ("JSON deep page p50 ms", "http", lambda d: page(d, "JSON deep"), 1),
        ("HTML first page p50 ms", "http", lambda d: page(d, "HTML first"), 1),
        ("HTML deep page p50 ms", "http", lambda d: page(d, "HTML deep"), 1),
        ("ingest s", "ingest", lambda d: d["median"]["shequ_s"], 2),
        ("ingest µs per row", "ingest", lambda d: d["us_per_row"], 1),
        ("ingest peak RSS MB", "ingest", lambda d: d["max_peak_rss_mb"], 0),
        ("publish s", "publish", lambda d: d["median"]["publish_s"], 1),
        ("CSV export s", "export", lambda d: d["median"]["shequ_csv"]["seconds"], 2),
    ]
    for label, step, fn, digits in curve:
        values = []
        for s in sizes:
            d = _j(runner, s, step)
            try:
                values.append(fn(d) if d else None)
            except (KeyError, TypeError, StopIteration, IndexError):
                values.append(None)
        known = [(s, v) for s, v in zip(sizes, values) if v]
        ratio = f"{known[-1][1] / known[0][1]:.2f}× (size ×{known[-1][0] / known[0][0]:.0f})" if len(known) > 1 else "—"
        rows.append([label, *[c.fmt(v, digits) for v in values], ratio])
    md += [c.table(["", *heads, "largest / smallest"], rows, markdown=True), ""]

    # -- failures and raw output
    failed = [s for s in runner.steps if not s["ok"]]
    if failed:
        md += ["## Failed steps", ""]
        for s in failed:
            md += [f"- **{s['size']} {s['step']}** ({s['seconds']:.0f} s): `{s['cmd'] or 'in run_all.py'}`", "",
                   "  ```", *["  " + line for line in (s["error"] or "").splitlines()[-25:]], "  ```", ""]
    md += ["## Output of every step", ""]
    for s in runner.steps:
        if not s.get("output"):
            continue
        text = s["output"]
        lines = [line for line in text.splitlines() if not line.startswith("[")]  # progress lines are in the logs
        md += [f"<details><summary>{s['size']} {s['step']} ({'ok' if s['ok'] else 'FAILED'}, "
               f"{s['seconds']:.0f} s)</summary>", "", "```", *lines[-120:], "```", "", "</details>", ""]
    return "\n".join(md) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000,5000000", help="comma list of disbursement counts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma list of {', '.join(STEPS)}")
    parser.add_argument("--search-persons", type=int, default=1_000_000,
                        help="residents of the registry-only data dir for the search bench (0: skip)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of each concurrency measurement")
    parser.add_argument("--mixed-duration", type=float, default=60.0)
    parser.add_argument("--publish-budget", type=float, default=3 * 3600,
                        help="seconds after which bench_publish starts no further run")
    parser.add_argument("--ingest-budget", type=float, default=6 * 3600,
                        help="seconds after which bench_ingest starts no further run")
    parser.add_argument("--publish-timeout", type=float, default=2 * 3600,
                        help="seconds after which one `shequ publish` is killed (recorded as failed)")
    parser.add_argument("--step-timeout", type=float, default=12 * 3600, help="seconds per step")
    parser.add_argument("--skip", default="", help="comma list of SIZE:STEP not to run (e.g. 5000000:export)")
    parser.add_argument("--work", type=Path, default=c.WORK)
    parser.add_argument("--keep-data", action="store_true", help="keep the loaded data dirs afterwards")
    parser.add_argument("--out", type=Path, default=c.BENCH / "RESULTS.md")
    args = parser.parse_args()
    args.size_list = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    args.steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    args.skip = {(int(x.split(":")[0].replace("_", "")), x.split(":")[1].strip())
                 for x in args.skip.split(",") if ":" in x}
    unknown = set(args.steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown step(s): {', '.join(sorted(unknown))}")
    args.work = args.work.resolve()
    args.out = args.out.resolve()

    runner = Runner(args)
    c.log(f"bench run: sizes {', '.join(f'{s:,}' for s in args.size_list)}; steps {', '.join(args.steps)}; "
          f"results → {args.out}")
    for size in args.size_list:
        c.log(f"===== {size:,} disbursements =====")
        try:
            run_size(runner, size)
        except Exception as e:  # noqa: BLE001 - the next size still runs
            runner.steps.append({"size": size, "step": "run_all", "cmd": "", "ok": False, "seconds": 0,
                                 "error": f"{type(e).__name__}: {e}", "json": None, "output": ""})
            c.log(f"[{size}] run_all error: {e}")
    if "search" in args.steps and args.search_persons:
        c.log(f"===== search over {args.search_persons:,} persons =====")
        try:
            run_search(runner, args.search_persons)
        except Exception as e:  # noqa: BLE001
            runner.steps.append({"size": f"search-{args.search_persons}", "step": "run_all", "cmd": "", "ok": False,
                                 "seconds": 0, "error": f"{type(e).__name__}: {e}", "json": None, "output": ""})
    runner.finished = True
    runner.write()
    failed = [s for s in runner.steps if not s["ok"]]
    c.log(f"done: {len(runner.steps) - len(failed)} steps ok, {len(failed)} failed; results in {args.out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
