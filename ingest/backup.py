"""Online, consistent backups of the staff data (SQLite backup API), verified restores.

A backup is a directory `backups/<UTC timestamp>/` holding community.db and accounts.db
copied page by page while the server keeps running, and SHA256SUMS. Restore verifies the
checksums and `PRAGMA integrity_check` before swapping the files in, and keeps the
replaced files beside them.
"""
from __future__ import annotations

import datetime
import os
import shutil
import sqlite3
from pathlib import Path

from .reader import file_digest

FILES = ("community.db", "accounts.db")


class BackupError(Exception):
    """A refused backup or restore (Chinese message)."""


def _copy_online(source: Path, target: Path):
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    with dst:
        src.backup(dst, pages=4096)  # consistent snapshot, writers keep going in between steps
    dst.execute("PRAGMA journal_mode = DELETE")  # a backup is one self-contained file
    dst.close()
    src.close()


def _check(path: Path):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    if result != "ok":
        raise BackupError(f"{path.name} 完整性检查未通过：{result}")


def backup(db_dir, to=None, keep: int = 14) -> Path:
    """Take a backup; keep the newest `keep` backups in the target directory."""
    db_dir = Path(db_dir)
    root = Path(to) if to else db_dir / "backups"
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    building = root / f".{stamp}.building"
    building.mkdir()
    sums = []
    for name in FILES:
        source = db_dir / name
        if source.exists():
            _copy_online(source, building / name)
            _check(building / name)
            sums.append(f"{file_digest(building / name)}  {name}\n")
    (building / "SHA256SUMS").write_text("".join(sums))
    final = root / stamp
    os.replace(building, final)
    for old in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))[:-keep]:
        shutil.rmtree(old)
    return final


def verify(backup_dir) -> list[str]:
    backup_dir = Path(backup_dir)
    sums = backup_dir / "SHA256SUMS"
    if not sums.exists():
        raise BackupError(f"{backup_dir} 不是一个备份（没有 SHA256SUMS）")
    names = []
    for line in sums.read_text().splitlines():
        digest, name = line.split("  ", 1)
        if file_digest(backup_dir / name) != digest:
            raise BackupError(f"{name} 的校验和不符：备份已损坏，拒绝恢复")
        _check(backup_dir / name)
        names.append(name)
    if "community.db" not in names:
        raise BackupError("备份中没有 community.db")
    return names


def restore(backup_dir, db_dir) -> Path:
    """Verify, then swap the backup in (stop `shequ serve` first); returns where the
    replaced files were kept."""
    names = verify(backup_dir)
    db_dir = Path(db_dir)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kept = db_dir / f"before-restore-{stamp}"
    kept.mkdir()
    for name in names:
        target = db_dir / name
        staged = db_dir / f".{name}.restoring"
        shutil.copyfile(Path(backup_dir) / name, staged)
        with open(staged, "rb") as f:
            os.fsync(f.fileno())
        if target.exists():
            old = sqlite3.connect(target)
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            old.close()
            shutil.copyfile(target, kept / name)
        os.replace(staged, target)
        for side in ("-wal", "-shm"):
            Path(f"{target}{side}").unlink(missing_ok=True)
    return kept


def latest(db_dir) -> Path | None:
    root = Path(db_dir) / "backups"
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.exists() else []
    return dirs[-1] if dirs else None
