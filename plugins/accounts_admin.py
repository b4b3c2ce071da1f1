"""Account management for admins at /-/shequ/accounts: list accounts, create one,
disable/enable, reset a password, change a role, revoke API tokens, lift a login lock.

Thin over ingest.accounts; every change is to accounts.db, so it takes effect on the
affected account's next request. Each POST ends in a message and a redirect back
(POST-redirect-GET). An admin cannot disable or demote themselves, and accounts.py
refuses to disable or demote the last enabled admin, so there is always an admin.
"""
from __future__ import annotations

from urllib.parse import quote

from datasette import hookimpl
from datasette.utils.asgi import Forbidden, Response

from ingest import accounts, web

PATH = "/-/shequ/accounts"
SELF_DISABLE = "不能停用自己的账号（系统中须始终保留可用的管理员）"
SELF_DEMOTE = "不能降低自己的角色（系统中须始终保留可用的管理员）"


def _role_text(role: str) -> str:
    return f"{accounts.ROLE_LABELS[role]}（{role}）"


def _check(request):
    """None if the actor is an admin; otherwise the response to send."""
    if web.is_admin(request.actor):
        return None
    if not request.actor and request.method == "GET":
        return Response.redirect(f"/-/login?next={quote(PATH)}")
    raise Forbidden("只有管理员可以管理账号")


def _act(conn, me: str, form) -> str:
    """Carry out one POSTed action; returns the success message or raises AccountError."""
    action = (form.get("action") or "").strip()
    username = (form.get("username") or "").strip()
    role = (form.get("role") or "").strip()
    password = form.get("password") or ""
    if action == "create":
        accounts.add_user(conn, username, role, password)
        return f"已创建账号「{username}」（{_role_text(role)}）"
    if action not in ("disable", "enable", "reset_password", "set_role", "revoke_tokens",
                      "unlock"):
        raise accounts.AccountError(f"未知的操作「{action}」")
    if not username:
        raise accounts.AccountError("没有指定账号")
    if accounts.get_user(conn, username) is None:
        raise accounts.AccountError(f"没有用户「{username}」")
    if action == "disable":
        if username == me:
            raise accounts.AccountError(SELF_DISABLE)
        accounts.set_disabled(conn, username, True)
        return f"已停用账号「{username}」，其登录会话和 API 令牌已立即失效"
    if action == "enable":
        accounts.set_disabled(conn, username, False)
        return f"已启用账号「{username}」"
    if action == "reset_password":
        accounts.set_password(conn, username, password)
        accounts.clear_failures(conn, username=username)
        return f"已重置「{username}」的密码，其已登录的会话已失效"
    if action == "set_role":
        if role not in accounts.ROLES:
            raise accounts.AccountError(f"未知的角色「{role}」（可选：{'、'.join(accounts.ROLES)}）")
        if username == me and accounts.ROLE_RANK[role] < accounts.ROLE_RANK["admin"]:
            raise accounts.AccountError(SELF_DEMOTE)
        accounts.set_role(conn, username, role)
        return f"已将「{username}」的角色改为{_role_text(role)}"
    if action == "revoke_tokens":
        n = accounts.revoke_tokens(conn, username)
        return f"已撤销「{username}」的 {n} 个 API 令牌"
    accounts.clear_failures(conn, username=username)
    return f"已解除「{username}」的登录锁定"


async def accounts_page(request, datasette):
    refused = _check(request)
    if refused is not None:
        return refused
    conn = accounts.connect(web.accounts_path(datasette))
    try:
        if request.method == "POST":
            form = await request.post_vars()
            try:
                message = _act(conn, request.actor["id"], form)
            except accounts.AccountError as e:
                datasette.add_message(request, f"操作未完成：{e}", datasette.ERROR)
            else:
                datasette.add_message(request, message, datasette.INFO)
            return Response.redirect(PATH)
        tokens, failures = accounts.count_tokens(conn), accounts.recent_failures(conn)
        rows = [{"username": username, "role": role, "role_text": _role_text(role),
                 "disabled": bool(disabled), "created_at": created_at,
                 "tokens": tokens.get(username, 0), "failures": failures.get(username, 0),
                 "locked": failures.get(username, 0) >= accounts.MAX_FAILURES_PER_ACCOUNT}
                for username, role, disabled, created_at in accounts.list_users(conn)]
    finally:
        conn.close()
    html = await datasette.render_template("shequ_accounts.html", {
        "rows": rows, "me": request.actor["id"], "path": PATH,
        "roles": [(r, _role_text(r)) for r in accounts.ROLES],
        "min_password": accounts.MIN_PASSWORD,
        "window_minutes": accounts.FAILURE_WINDOW_MINUTES}, request=request)
    return Response.html(html)


@hookimpl
def register_routes():
    return [(rf"^{PATH}$", accounts_page)]


@hookimpl
def menu_links(datasette, actor):
    if web.is_admin(actor):
        return [{"href": PATH, "label": "账号管理"}]
    return []
