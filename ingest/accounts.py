"""Staff accounts and login sessions, kept in accounts.db (never served by Datasette).

Passwords are hashed with scrypt (n=2**14, r=8, p=1, 16-byte salt); sessions are random
tokens stored only as SHA-256 hashes, so a copy of accounts.db logs nobody in.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import secrets
import sqlite3
from pathlib import Path

ROLES = ("admin", "staff", "viewer")
ROLE_LABELS = {"admin": "管理员", "staff": "工作人员", "viewer": "只读查看"}
SESSION_HOURS = 12
MIN_PASSWORD = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'viewer')),
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
"""


class AccountError(ValueError):
    """A refused account operation (Chinese message)."""


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def connect(path) -> sqlite3.Connection:
    conn = sqlite3.connect(Path(path), isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executescript(SCHEMA)
    return conn


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt$16384$8$1${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _check_password(password: str):
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD} 个字符")


def add_user(conn, username: str, role: str, password: str):
    username = username.strip()
    if not username:
        raise AccountError("用户名不能为空")
    if role not in ROLES:
        raise AccountError(f"未知的角色「{role}」（可选：{'、'.join(ROLES)}）")
    _check_password(password)
    try:
        conn.execute(
            "INSERT INTO accounts (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            [username, role, hash_password(password), _now().isoformat()])
    except sqlite3.IntegrityError:
        raise AccountError(f"用户「{username}」已存在") from None


def set_password(conn, username: str, password: str):
    _check_password(password)
    cur = conn.execute("UPDATE accounts SET password_hash = ? WHERE username = ?",
                       [hash_password(password), username])
    if not cur.rowcount:
        raise AccountError(f"没有用户「{username}」")
    conn.execute("DELETE FROM sessions WHERE username = ?", [username])


def list_users(conn):
    return conn.execute(
        "SELECT username, role, disabled, created_at FROM accounts ORDER BY username").fetchall()


def count_users(conn) -> int:
    return conn.execute("SELECT count(*) FROM accounts").fetchone()[0]


def authenticate(conn, username: str, password: str) -> dict | None:
    row = conn.execute("SELECT role, password_hash, disabled FROM accounts WHERE username = ?",
                       [username]).fetchone()
    if row is None:
        verify_password(password, hash_password("timing-equaliser"))
        return None
    if not verify_password(password, row[1]) or row[2]:
        return None
    return {"id": username, "role": row[0]}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn, username: str) -> str:
    token = secrets.token_urlsafe(32)
    now = _now()
    conn.execute("DELETE FROM sessions WHERE expires_at < ?", [now.isoformat()])
    conn.execute(
        "INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)",
        [_token_hash(token), username, now.isoformat(),
         (now + datetime.timedelta(hours=SESSION_HOURS)).isoformat()])
    return token


def session_actor(conn, token: str) -> dict | None:
    """The actor for a session cookie, or None if unknown, expired or the account is disabled."""
    row = conn.execute(
        "SELECT a.username, a.role FROM sessions s JOIN accounts a ON a.username = s.username"
        " WHERE s.token_hash = ? AND s.expires_at > ? AND a.disabled = 0",
        [_token_hash(token), _now().isoformat()]).fetchone()
    return {"id": row[0], "role": row[1]} if row else None


def actor_for_token(path, token: str | None) -> dict | None:
    """Open accounts.db at `path` just long enough to resolve a session cookie."""
    if not token:
        return None
    conn = connect(path)
    try:
        return session_actor(conn, token)
    finally:
        conn.close()


def end_session(conn, token: str):
    conn.execute("DELETE FROM sessions WHERE token_hash = ?", [_token_hash(token)])
