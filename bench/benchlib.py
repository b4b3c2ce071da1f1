"""Shared helpers of the bench scripts (not a benchmark itself).

Work directory: $SHEQU_BENCH_WORK or /tmp/shequ-bench. Per size N:
    N/ledgers/       bench/generate.py output (cached: reused while the generator and its
                     arguments are unchanged, see `.complete`)
    N/template/      community.db with only the registry (居民名册) loaded
    N/data/          every ledger loaded: what the HTTP, export, publish and mixed benches use
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WORK = Path(os.environ.get("SHEQU_BENCH_WORK", "/tmp/shequ-bench"))
ADMIN, ADMIN_PASSWORD = "bench-admin", "bench-admin-password-2026"
LEDGER_FILES = ("01_registry.csv", "02_disbursements.csv", "03_visits.csv", "04_elections.csv",
                "05_candidates.csv")


def env() -> dict:
    """Environment of every child: the project importable from anywhere, a fixed secret,
    no inherited data directory."""
    e = {k: v for k, v in os.environ.items() if k != "SHEQU_DB_DIR"}
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    e["SHEQU_SECRET"] = "shequ-bench-secret"
    e.setdefault("PYTHONUNBUFFERED", "1")
    return e


def shequ(*args) -> list[str]:
    """The `shequ` command line (same entry point as the console script)."""
    return [sys.executable, "-m", "ingest.cli", *map(str, args)]


def log(*parts):
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ measuring a child

@dataclass
class Measured:
    cmd: list
    returncode: int
    seconds: float
    peak_rss_mb: float  # this child's own peak RSS (VmHWM after exec), not a running max
    output: str  # stdout + stderr (tail)

    @property
    def ok(self):
        return self.returncode == 0

    def check(self, what=""):
        if not self.ok:
            raise RuntimeError(f"{what or ' '.join(map(str, self.cmd))} exited {self.returncode}:\n"
                               f"{self.output[-3000:]}")
        return self


def run_measured(cmd, *, input: str | None = None, timeout: float | None = None, cwd=ROOT,
                 log_path: Path | None = None) -> Measured:
    """Run `cmd`, return its wall time and ITS OWN peak RSS.

    The peak is the child's VmHWM (/proc/PID/status: the high-water mark of its address
    space), sampled every 20 ms once it has exec'ed `cmd`. Not ru_maxrss: on Linux, exec
    folds the high-water mark of the address space it replaces - the forking parent's -
    into ru_maxrss, so a child of a bench that holds 5M parsed rows "peaked" at 881 MB."""
    cmd = [str(c) for c in cmd]
    own_log = log_path is None
    if own_log:
        import tempfile
        fd, name = tempfile.mkstemp(prefix="shequ-bench-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    with open(log_path, "ab") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL)
    sampler = _HighWater(proc.pid, cmd)
    sampler.start()
    killer = None
    if timeout:
        killer = threading.Timer(timeout, lambda: _kill(proc))
        killer.daemon = True
        killer.start()
    try:
        if input is not None:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(input.encode())
                proc.stdin.close()
        _, status, _ = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    finally:
        if killer:
            killer.cancel()
        sampler.done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = Path(log_path).read_text(errors="replace")
    if own_log:
        Path(log_path).unlink(missing_ok=True)
    if len(text) > 20000:
        text = text[:2000] + "\n…\n" + text[-15000:]
    if timeout and proc.returncode < 0 and seconds >= timeout:
        text += f"\n(killed after the {timeout:.0f} s timeout)"
    return Measured(cmd, proc.returncode, seconds, sampler.peak_kib / 1024, text)


class _HighWater(threading.Thread):
    """The VmHWM of process `pid`, read every 20 ms while its command line is `cmd` (after
    exec; before it, a vforked child still shows the parent's address space)."""

    def __init__(self, pid, cmd):
        super().__init__(daemon=True)
        self.pid, self.argv = pid, "\0".join(cmd).encode()
        self.done, self.peak_kib = threading.Event(), 0

    def sample(self):
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as f:
                if f.read().rstrip(b"\0") != self.argv:
                    return
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))
        except (OSError, ValueError):
            pass

    def run(self):
        while not self.done.is_set():
            self.sample()
            self.done.wait(0.02)


def _kill(proc):
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def run(cmd, *, input=None, timeout=None, what="") -> str:
    """Run and return the output; raise with the output if it fails."""
    return run_measured(cmd, input=input, timeout=timeout).check(what).output


# ------------------------------------------------------------------ ledgers and data dirs

def generator_digest() -> str:
    return hashlib.sha256((BENCH / "generate.py").read_bytes()).hexdigest()[:16]


def ledgers(size: int, persons: int | None = None, work: Path = WORK) -> Path:
    """bench/generate.py output for `size` disbursements (and `persons` residents, default
    the generator's), generated once and then reused while generator and arguments match."""
    name = f"{size}" if persons is None else f"{size}-p{persons}"
    out = work / name / "ledgers"
    key = json.dumps({"disbursements": size, "persons": persons, "generator": generator_digest()})
    marker = out / ".complete"
    if marker.exists() and marker.read_text() == key and all((out / f).exists() for f in LEDGER_FILES):
        return out
    log(f"generating ledgers: {size} disbursements" + (f", {persons} persons" if persons else "")
        + f" → {out}")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, BENCH / "generate.py", "--disbursements", size, "--out", out]
    if persons is not None:
        cmd += ["--persons", persons]
    m = run_measured(cmd).check("bench/generate.py")
    log(f"  generated in {m.seconds:.1f} s: {m.output.strip()}")
    marker.write_text(key)
    return out


def count_lines(path: Path) -> int:
    """Data lines of a generated CSV (no quoted newlines in generated ledgers)."""
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n - 1


def checkpoint(db_dir: Path):
    """Fold the WAL into community.db so that the directory can be copied as files."""
    for name in ("community.db", "accounts.db"):
        path = Path(db_dir) / name
        if path.exists():
            conn = sqlite3.connect(path)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()


def copy_dir(src: Path, dst: Path):
    checkpoint(src)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("backups", "before-restore-*", "*.rejects.csv"))


def ingest(db_dir: Path, *files, timeout=None) -> Measured:
    return run_measured(shequ("ingest", *files, "--db-dir", db_dir), timeout=timeout)


def build_template(ledger_dir: Path, dest: Path) -> Measured:
    """A data dir with only the registry loaded."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    m = ingest(dest, ledger_dir / "01_registry.csv").check("shequ ingest 01_registry.csv")
    checkpoint(dest)
    return m


def complete_data_dir(db_dir: Path, ledger_dir: Path):
    """Load the rest of the ledgers (visits, elections, candidates) into a data dir that
    has the registry and the disbursements, and mark it complete."""
    ingest(db_dir, *(ledger_dir / f for f in LEDGER_FILES[2:])).check("shequ ingest 03-05")
    checkpoint(db_dir)
    (db_dir / ".bench-complete").write_text(json.dumps({"ledgers": str(ledger_dir),
                                                        "generator": generator_digest()}))


def build_data_dir(ledger_dir: Path, dest: Path) -> Path:
    """Every ledger loaded (the registry first)."""
    log(f"loading every ledger of {ledger_dir} into {dest}")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    ingest(dest, *(ledger_dir / f for f in LEDGER_FILES[:2])).check("shequ ingest 01-02")
    complete_data_dir(dest, ledger_dir)
    return dest


def data_dir_complete(db_dir: Path) -> bool:
    return (Path(db_dir) / ".bench-complete").exists() and (Path(db_dir) / "community.db").exists()


def ensure_user(db_dir: Path, name: str, role: str, password: str):
    """Create the account if it does not exist yet (idempotent)."""
    listing = run(shequ("user", "list", "--db-dir", db_dir), what="shequ user list")
    if any(line.split() and line.split()[0] == name for line in listing.splitlines()):
        return
    m = run_measured(shequ("user", "add", name, "--role", role, "--password-stdin", "--db-dir", db_dir),
                     input=password + "\n")
    if not m.ok and "已存在" not in m.output and "exists" not in m.output:
        m.check(f"shequ user add {name}")


def admin_token(db_dir: Path) -> str:
    """The `bench-admin` account (created if missing) and a fresh API token for it."""
    ensure_user(db_dir, ADMIN, "admin", ADMIN_PASSWORD)
    out = run(shequ("token", "create", ADMIN, "--label", "bench", "--db-dir", db_dir),
              what="shequ token create").strip().splitlines()
    token = out[-1].strip() if out else ""
    if not token:
        raise RuntimeError("shequ token create printed no token")
    return token


# ------------------------------------------------------------------ servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> dict:
    """Current and peak (VmHWM) resident set of a running process, MB."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


class Server:
    """`shequ serve` or a stock `datasette serve` in a child process on loopback."""

    def __init__(self, cmd, url_ready: str, port: int, log_path: Path, name: str):
        self.cmd, self.port, self.log_path, self.name = [str(c) for c in cmd], port, log_path, name
        self.base = f"http://127.0.0.1:{port}"
        self.url_ready = self.base + url_ready
        self.proc = None

    @classmethod
    def shequ(cls, db_dir: Path, log_path: Path, port: int | None = None):
        port = port or free_port()
        return cls(shequ("serve", "--port", port, "--db-dir", db_dir), "/-/login", port, log_path,
                   "shequ")

    @classmethod
    def stock(cls, db_file: Path, log_path: Path, port: int | None = None, settings=()):
        port = port or free_port()
        datasette = shutil.which("datasette") or str(Path(sys.executable).with_name("datasette"))
        cmd = [datasette, "serve", db_file, "--port", port]
        for key, value in (("sql_time_limit_ms", 120000), *settings):
            cmd += ["--setting", key, value]
        return cls(cmd, "/-/versions.json", port, log_path, "stock datasette")

    def start(self, timeout=900.0):
        """Start and wait until it answers (a first start may migrate a large database)."""
        import urllib.error
        import urllib.request
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env(), stdout=out, stderr=subprocess.STDOUT)
        finally:
            out.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.tail()}")
            try:
                urllib.request.urlopen(self.url_ready, timeout=5)
                return self
            except urllib.error.HTTPError:
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, n=3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-n:]
        return ""

    def rss(self) -> dict:
        return rss_mb(self.proc.pid) if self.proc else {}

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ------------------------------------------------------------------ figures

def budgeted_runs(runs: int, budget: float, result: dict):
    """Run numbers 1..runs; after the first, none is started once `budget` seconds are
    spent (recorded as result["budget_stop"])."""
    started = time.monotonic()
    for n in range(1, runs + 1):
        if n > 1 and time.monotonic() - started > budget:
            log(f"  {budget:.0f} s budget spent: stopping after {n - 1} run(s)")
            result["budget_stop"] = n - 1
            return
        yield n


def median(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else None


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else None


def verdict(ok) -> str:
    return "—" if ok is None else ("PASS" if ok else "FAIL")


def fmt(value, digits=1, unit="") -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}{unit}"


def table(headers, rows, markdown=False) -> str:
    """A plain-text (or Markdown) table; numbers right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(cells[0]) + " |",
                 "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells[1:]]
        return "\n".join(lines)
    width = [max(_width(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for n, row in enumerate(cells):
        out.append("  ".join(_pad(c, width[i], left=(i == 0)) for i, c in enumerate(row)))
        if n == 0:
            out.append("  ".join("-" * w for w in width))
    return "\n".join(out)


def _width(s: str) -> int:
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s, width, left):
    gap = " " * (width - _width(s))
    return s + gap if left else gap + s


def write_json(path, data):
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str))


def command_line() -> str:
    import shlex
    return " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
