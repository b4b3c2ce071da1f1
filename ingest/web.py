"""Small helpers the Datasette plugins share (plugins cannot import one another)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from datasette.utils import tilde_decode

from . import app, datadir

WRITE_ROLES = ("admin", "staff")


def settings(datasette) -> dict:
    return datasette.plugin_config("shequ") or {}


def staff_db(datasette) -> str:
    return settings(datasette)["private_databases"][0]


def db_dir(datasette) -> Path:
    return Path(settings(datasette)["db_dir"])


def accounts_path(datasette) -> Path:
    return datadir.accounts_db(db_dir(datasette))


def role(actor) -> str | None:
    return actor.get("role") if isinstance(actor, dict) else None


def is_admin(actor) -> bool:
    return role(actor) == "admin"


def can_write(actor) -> bool:
    return role(actor) in WRITE_ROLES


def column_label(table: str, column: str) -> str:
    """The Chinese label of a staff-database column, from metadata.yml."""
    tables = app.load_yaml("metadata.yml")["databases"]["community"]["tables"]
    return (tables.get(table, {}).get("columns") or {}).get(column, column)


def table_title(table: str) -> str:
    tables = app.load_yaml("metadata.yml")["databases"]["community"]["tables"]
    return tables.get(table, {}).get("title", table)


def via(request) -> str:
    """Which door a write came through, for the audit trail."""
    if request is None:
        return "系统"
    path = request.path
    for prefix, name in (("/-/shequ/restore", "恢复"), ("/-/shequ/upload", "上传台账"),
                         ("/-/shequ/", "表单")):
        if path.startswith(prefix):
            return name
    return "写接口" if "/-/" in path else "存储查询"


def database_of(path: str) -> str:
    """The database a URL addresses, decoded the way Datasette decodes it (percent- and
    tilde-encoding), so /comm~75nity/… is recognised as /community/…."""
    segment = unquote(path).lstrip("/").split("/", 1)[0]
    return tilde_decode(segment.split(".", 1)[0])
