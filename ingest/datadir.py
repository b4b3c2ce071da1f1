"""The data directory: community.db, public.db, accounts.db and the signing secret."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ENV_DIR, ENV_SECRET = "SHEQU_DB_DIR", "SHEQU_SECRET"


def resolve(db_dir=None) -> Path:
    path = Path(db_dir or os.environ.get(ENV_DIR) or "db")
    path.mkdir(parents=True, exist_ok=True)
    return path


def community_db(db_dir) -> Path:
    return Path(db_dir) / "community.db"


def public_db(db_dir) -> Path:
    return Path(db_dir) / "public.db"


def accounts_db(db_dir) -> Path:
    return Path(db_dir) / "accounts.db"


def secret(db_dir) -> str:
    """SHEQU_SECRET if set, else a secret generated once and kept in the directory (0600)."""
    if os.environ.get(ENV_SECRET):
        return os.environ[ENV_SECRET]
    path = Path(db_dir) / "secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return path.read_text().strip()
