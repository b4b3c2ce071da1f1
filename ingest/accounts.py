"""Staff accounts, login sessions, API tokens and failed-login records, kept in
accounts.db (never served by Datasette).

Passwords are hashed with scrypt (n=2**14, r=8, p=1, 16-byte salt); sessions and API
tokens are random strings stored only as SHA-256 hashes, so a copy of accounts.db logs
nobody in. Every request re-reads the account, so disabling it or changing its role
takes effect on the next request, whatever credential it carries.
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
ROLE_RANK = {"viewer": 0, "staff": 1, "admin": 2}
SESSION_HOURS = 12          # absolute lifetime of a login session
SESSION_IDLE_MINUTES = 120  # a session unused this long is over too
SESSION_TOUCH_SECONDS = 60  # record use at most once a minute per session
MIN_PASSWORD = 8
TOKEN_PREFIX = "shequ_"

# Failed-login limits: within the last FAILURE_WINDOW_MINUTES, an account with
# MAX_FAILURES_PER_ACCOUNT failures, or a client address with MAX_FAILURES_PER_ADDRESS,
# cannot log in at all (checked before the password).
FAILURE_WINDOW_MINUTES = 15
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
LOCKED_MESSAGE = f"登录失败次数过多，请 {FAILURE_WINDOW_MINUTES} 分钟后再试"

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
    expires_at TEXT NOT NULL,
    last_seen_at TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'viewer')),
    name TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX IF NOT EXISTS idx_tokens_username ON tokens(username);
CREATE TABLE IF NOT EXISTS login_failures (
    username TEXT NOT NULL,
    address TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_login_failures_username ON login_failures(username, at);
CREATE INDEX IF NOT EXISTS idx_login_failures_address ON login_failures(address, at);
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
    if "last_seen_at" not in {row[1] for row in conn.execute("PRAGMA table_info(sessions)")}:
        try:  # accounts.db from before the idle timeout
            conn.execute("ALTER TABLE sessions ADD COLUMN last_seen_at TEXT")
        except sqlite3.OperationalError:  # another connection added it first
            pass
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
    conn.execute("DELETE FROM sessions WHERE expires_at < ? OR last_seen_at < ?",
                 [now.isoformat(), _idle_cutoff(now)])
    conn.execute(
        "INSERT INTO sessions (token_hash, username, created_at, expires_at, last_seen_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [_token_hash(token), username, now.isoformat(),
         (now + datetime.timedelta(hours=SESSION_HOURS)).isoformat(), now.isoformat()])
    return token


def _idle_cutoff(now) -> str:
    return (now - datetime.timedelta(minutes=SESSION_IDLE_MINUTES)).isoformat()


def session_actor(conn, token: str) -> dict | None:
    """The actor for a session cookie, or None if unknown, expired (SESSION_HOURS after
    login), idle (unused for SESSION_IDLE_MINUTES) or the account is disabled."""
    now = _now()
    token_hash = _token_hash(token)
    row = conn.execute(
        "SELECT a.username, a.role, coalesce(s.last_seen_at, s.created_at)"
        " FROM sessions s JOIN accounts a ON a.username = s.username"
        " WHERE s.token_hash = ? AND s.expires_at > ? AND a.disabled = 0",
        [token_hash, now.isoformat()]).fetchone()
    if row is None:
        return None
    if row[2] <= _idle_cutoff(now):
        conn.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash])
        return None
    touch = (now - datetime.timedelta(seconds=SESSION_TOUCH_SECONDS)).isoformat()
    if row[2] <= touch:
        try:
            conn.execute("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?",
                         [now.isoformat(), token_hash])
        except sqlite3.OperationalError:  # busy: a missed touch only shortens the idle window
            pass
    return {"id": row[0], "role": row[1]}


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


# ── account management ───────────────────────────────────────────────────────


def get_user(conn, username: str) -> dict | None:
    row = conn.execute("SELECT username, role, disabled, created_at FROM accounts"
                       " WHERE username = ?", [username]).fetchone()
    if row is None:
        return None
    return {"username": row[0], "role": row[1], "disabled": bool(row[2]), "created_at": row[3]}


def _require_user(conn, username: str) -> dict:
    user = get_user(conn, username)
    if user is None:
        raise AccountError(f"没有用户「{username}」")
    return user


def _other_enabled_admins(conn, username: str) -> int:
    return conn.execute("SELECT count(*) FROM accounts WHERE role = 'admin' AND disabled = 0"
                        " AND username != ?", [username]).fetchone()[0]


def set_disabled(conn, username: str, disabled: bool):
    """Disable (or enable) an account. Disabling ends its sessions and revokes its API
    tokens at once; the last enabled admin cannot be disabled."""
    user = _require_user(conn, username)
    if disabled and user["role"] == "admin" and not user["disabled"] \
            and not _other_enabled_admins(conn, username):
        raise AccountError(f"「{username}」是唯一启用的管理员，不能停用")
    conn.execute("UPDATE accounts SET disabled = ? WHERE username = ?",
                 [1 if disabled else 0, username])
    if disabled:
        conn.execute("DELETE FROM sessions WHERE username = ?", [username])
        conn.execute("DELETE FROM tokens WHERE username = ?", [username])


def set_role(conn, username: str, role: str):
    """Change an account's role; takes effect on its next request (sessions and tokens
    alike). The last enabled admin cannot be demoted."""
    if role not in ROLES:
        raise AccountError(f"未知的角色「{role}」（可选：{'、'.join(ROLES)}）")
    user = _require_user(conn, username)
    if user["role"] == "admin" and role != "admin" and not user["disabled"] \
            and not _other_enabled_admins(conn, username):
        raise AccountError(f"「{username}」是唯一启用的管理员，不能降低角色")
    conn.execute("UPDATE accounts SET role = ? WHERE username = ?", [role, username])


def count_tokens(conn) -> dict:
    """username → number of API tokens that have not expired."""
    return dict(conn.execute(
        "SELECT username, count(*) FROM tokens WHERE expires_at IS NULL OR expires_at > ?"
        " GROUP BY username", [_now().isoformat()]).fetchall())


# ── API tokens ────────────────────────────────────────────────────────────────


def lower_role(a: str, b: str) -> str:
    return a if ROLE_RANK[a] <= ROLE_RANK[b] else b


def create_token(conn, username: str, role: str | None = None, ttl: int | None = None,
                 name: str | None = None) -> str:
    """A new bearer token for `username` (returned once; only its hash is kept).

    `role` defaults to the account's role and may only be the same or lower; `ttl` is
    the lifetime in seconds (None: until revoked)."""
    user = _require_user(conn, username)
    if user["disabled"]:
        raise AccountError(f"账号「{username}」已停用，不能创建令牌")
    role = role or user["role"]
    if role not in ROLES:
        raise AccountError(f"未知的角色「{role}」（可选：{'、'.join(ROLES)}）")
    if ROLE_RANK[role] > ROLE_RANK[user["role"]]:
        raise AccountError(
            f"令牌的角色「{role}」高于账号「{username}」的角色「{user['role']}」；"
            "令牌只能使用相同或更低的角色")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0):
        raise AccountError("有效期必须是正整数（秒）")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = _now()
    expires = (now + datetime.timedelta(seconds=ttl)).isoformat() if ttl else None
    conn.execute("DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at <= ?",
                 [now.isoformat()])
    conn.execute(
        "INSERT INTO tokens (token_hash, username, role, name, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [_token_hash(token), username, role, name or None, now.isoformat(), expires])
    return token


def token_actor(conn, token: str) -> dict | None:
    """The actor for a bearer token, or None if it is unknown, expired, or its account is
    disabled or gone. The role is the lower of the token's and the account's current one."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    row = conn.execute(
        "SELECT a.username, a.role, t.role FROM tokens t JOIN accounts a ON a.username = t.username"
        " WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)"
        " AND a.disabled = 0",
        [_token_hash(token), _now().isoformat()]).fetchone()
    if row is None:
        return None
    return {"id": row[0], "role": lower_role(row[1], row[2]), "token": "shequ"}


def actor_for_bearer(path, token: str) -> dict | None:
    """Open accounts.db at `path` just long enough to resolve a bearer token."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    conn = connect(path)
    try:
        return token_actor(conn, token)
    finally:
        conn.close()


def revoke_tokens(conn, username: str) -> int:
    _require_user(conn, username)
    return conn.execute("DELETE FROM tokens WHERE username = ?", [username]).rowcount


def bearer_token(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer …` header ("" if empty), else None."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else None


# ── failed-login limits ───────────────────────────────────────────────────────


def _window_start() -> str:
    return (_now() - datetime.timedelta(minutes=FAILURE_WINDOW_MINUTES)).isoformat()


def login_locked(conn, username: str, address: str) -> bool:
    """Too many recent failures for this account or this client address?"""
    since = _window_start()
    by_account = conn.execute("SELECT count(*) FROM login_failures WHERE username = ? AND at > ?",
                              [username, since]).fetchone()[0]
    if by_account >= MAX_FAILURES_PER_ACCOUNT:
        return True
    by_address = conn.execute("SELECT count(*) FROM login_failures WHERE address = ? AND at > ?",
                              [address, since]).fetchone()[0]
    return by_address >= MAX_FAILURES_PER_ADDRESS


def record_failure(conn, username: str, address: str):
    conn.execute("DELETE FROM login_failures WHERE at <= ?", [_window_start()])
    conn.execute("INSERT INTO login_failures (username, address, at) VALUES (?, ?, ?)",
                 [username, address, _now().isoformat()])


def clear_failures(conn, username: str | None = None, address: str | None = None):
    """Forget failures for an account, an address, or (neither given) everyone."""
    if username is None and address is None:
        conn.execute("DELETE FROM login_failures")
    if username is not None:
        conn.execute("DELETE FROM login_failures WHERE username = ?", [username])
    if address is not None:
        conn.execute("DELETE FROM login_failures WHERE address = ?", [address])


def recent_failures(conn) -> dict:
    """username → failures within the window (for the admin page)."""
    return dict(conn.execute(
        "SELECT username, count(*) FROM login_failures WHERE at > ? GROUP BY username",
        [_window_start()]).fetchall())
