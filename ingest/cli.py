"""The `shequ` command line: serve, ingest, sample, migrate, user."""
from __future__ import annotations

import getpass
import os
import sys
import time
from pathlib import Path

import click

from . import ROOT, accounts, datadir, schema
from .loader import load_files

SAMPLE_DIR = ROOT / "sample"
PROGRESS_BYTES = 300_000  # a CSV this big has a few thousand rows
PROGRESS_ROWS = 3_000

db_dir_option = click.option(
    "--db-dir", type=click.Path(file_okay=False), envvar=datadir.ENV_DIR, default="db",
    show_default=True, help="数据目录（也可用环境变量 SHEQU_DB_DIR）")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """社区民政数据台（shequ）：导入台账、管理账号、启动数据浏览服务。

    \b
    示例：
      shequ sample                      # 用示例台账建立 db/community.db
      shequ user add 张敏 --role admin  # 创建第一个管理员
      shequ serve                       # 在 http://127.0.0.1:8001 启动
    """


def _rate(rows, seconds) -> str:
    return f"{rows:,} 行，每秒 {rows / max(seconds, 1e-9):,.0f} 行"


def _progress(sheet):
    """A progress bar (on stderr) for a big sheet: how far into the file, rows so far and
    rows per second; when the sheet is done, one line with the rows, time and rows/s."""
    big = sheet.size_hint > (PROGRESS_ROWS if sheet.name is not None else PROGRESS_BYTES)
    if not big:
        return None
    started = time.perf_counter()
    state = {"rows": 0, "open": True}
    bar = click.progressbar(length=sheet.size_hint, label=f"导入 {sheet.path.name}",
                            file=sys.stderr, show_pos=sheet.name is not None,
                            item_show_func=lambda text: text)
    bar.__enter__()

    def update(position, rows=None, done=False):
        if not state["open"]:
            return
        if rows is not None:
            state["rows"] = rows
        seconds = time.perf_counter() - started
        bar.update(max(0, min(position, sheet.size_hint) - bar.pos),
                   _rate(state["rows"], seconds) if rows is not None else None)
        if done:
            state["open"] = False
            bar.__exit__(None, None, None)
            click.echo(f"导入 {sheet.path.name}：{_rate(state['rows'], seconds)}，"
                       f"用时 {seconds:,.1f} 秒", file=sys.stderr)
    return update


def _print_reports(reports, max_errors=200):
    for report in reports:
        click.echo(report.summary())
        if report.ignored_headers:
            click.echo(f"  已忽略不认识的列：{'、'.join(report.ignored_headers)}")
        for error in report.errors[:max_errors]:
            click.echo(f"  {error}")
        total = max(report.error_count, len(report.errors))
        if total > max_errors:
            click.echo(f"  ……另有 {total - max_errors} 处错误")


# The command line waits longer than a web request for the write lock: a big import must
# not give up because staff keep saving forms (each holds the lock for milliseconds).
CLI_BUSY_MS = 60_000


def _open(db_dir):
    db = schema.connect(datadir.community_db(db_dir))
    db.execute(f"PRAGMA busy_timeout = {CLI_BUSY_MS}")
    schema.migrate(db)
    return db


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--skip-bad", is_flag=True,
              help="只导入正确的行，错误行连同原因写入输入文件旁的 .rejects.csv")
@db_dir_option
def ingest(files, skip_bad, db_dir):
    """导入台账文件（.csv 或 .xlsx），按表头自动识别模板。

    同一次导入的多个文件按依赖顺序载入（先居民名册）。默认严格：文件中只要有一行错误，
    整个文件都不写入，并列出每个错误的行号、列和原因，退出码非零。同一文件重复导入不会
    改变任何数据。

    \b
    示例：
      shequ ingest 居民名册.xlsx 2012年救助发放.csv
      shequ ingest --skip-bad 走访记录.csv
    """
    db_dir = datadir.resolve(db_dir)
    db = _open(db_dir)
    actor = f"命令行:{getpass.getuser()}"
    reports = load_files(db, files, skip_bad=skip_bad, actor=actor, progress=_progress)
    _print_reports(reports)
    if not all(r.ok for r in reports):
        sys.exit(1)


def build_sample(db_dir: Path) -> list:
    """Build community.db from sample/ in a temporary file, then swap it in."""
    target = datadir.community_db(db_dir)
    tmp = target.with_name(target.name + ".building")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    db = schema.connect(tmp)
    schema.migrate(db)
    reports = load_files(db, sorted(SAMPLE_DIR.glob("*.csv")) + sorted(SAMPLE_DIR.glob("*.xlsx")),
                         actor="shequ sample", via="示例数据")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    if not all(r.ok for r in reports):
        tmp.unlink(missing_ok=True)
        return reports
    if target.exists():
        old = schema.connect(target)
        old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        old.close()
    os.replace(tmp, target)
    for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm"), Path(f"{tmp}-wal"),
                     Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    return reports


@main.command()
@db_dir_option
def sample(db_dir):
    """用 sample/ 中的示例台账（重新）建立 community.db。

    示例台账重现了民政工作总结中的数字（见 sample/README.md）。已有的 community.db
    会被整体替换；新库先写入临时文件，成功后才替换。

    \b
    示例：
      shequ sample
      shequ sample --db-dir /srv/shequ/demo
    """
    reports = build_sample(datadir.resolve(db_dir))
    _print_reports(reports)
    if not all(r.ok for r in reports):
        sys.exit(1)
    click.echo(f"已建立 {datadir.community_db(datadir.resolve(db_dir))}")


@main.command()
@db_dir_option
def migrate(db_dir):
    """把 community.db 升级到当前的表结构（已是最新则什么都不做）。

    \b
    示例：
      shequ migrate --db-dir /srv/shequ
    """
    applied = schema.migrate(schema.connect(datadir.community_db(datadir.resolve(db_dir))))
    click.echo(f"已执行迁移：{'、'.join(applied)}" if applied else "表结构已是最新")


@main.command()
@click.option("--threshold", type=click.IntRange(2, 100), default=None,
              help="小格阈值（默认取 publish.yml，通常为 5）")
@db_dir_option
def publish(threshold, db_dir):
    """按 publish.yml 从 community.db 生成脱敏的公开数据库 public.db。

    每次从头生成：只写入规则列出的表和列，小格抑制加补充抑制，写入临时文件、VACUUM 后
    再替换旧文件。正在运行的 shequ serve 需要重启才会提供新文件。

    \b
    示例：
      shequ publish
      shequ publish --threshold 10 --db-dir /srv/shequ
    """
    from .publish import build

    db_dir = datadir.resolve(db_dir)
    manifest = build(datadir.community_db(db_dir), datadir.public_db(db_dir), threshold=threshold)
    rows = sum(manifest["row_counts"].values())
    click.echo(f"已生成 {datadir.public_db(db_dir)}：{len(manifest['row_counts'])} 张表，{rows} 行，"
               f"隐藏 {manifest['suppressed_cells']} 个格子（阈值 {manifest['threshold']}）")


@main.command()
@click.option("--deep", is_flag=True,
              help="另外把每个汇总查询（每个年份、每个社区）与按原始数据直接计算的结果逐行比较（大库较慢）")
@click.option("--repair", is_flag=True, help="发现差异时，从原始数据重建全部汇总表（一个事务内完成）")
@db_dir_option
def check(deep, repair, db_dir):
    """核对汇总表：从原始数据重新计算全部汇总，与现有汇总逐行比较，报告每一处差异。

    汇总表在每次写入（导入、表单、接口、恢复）时随之更新；本命令只读不写（--repair 除外）。
    没有差异时退出码为 0，有差异时为 1。

    \b
    示例：
      shequ check
      shequ check --deep --db-dir /srv/shequ
    """
    import time

    import yaml

    from . import aggregates, live_summaries

    db_dir = datadir.resolve(db_dir)
    db = _open(db_dir)
    conn = db.conn
    started = time.perf_counter()
    problems = aggregates.check(conn)
    if deep:
        queries = yaml.safe_load((ROOT / "datasette.yaml").read_text(encoding="utf-8"))
        problems += live_summaries.compare(conn, queries["databases"]["community"]["queries"])
    seconds = time.perf_counter() - started
    rows = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in aggregates.AGG_TABLES)
    if not problems:
        click.echo(f"汇总表与原始数据一致：{len(aggregates.AGG_TABLES)} 张汇总表共 {rows} 行，"
                   f"未发现差异{'（含逐个汇总查询的比较）' if deep else ''}（用时 {seconds:.1f} 秒）")
        return
    click.echo(f"发现 {len(problems)} 处差异：")
    for problem in problems[:200]:
        click.echo(f"  {problem}")
    if repair:
        aggregates.rebuild(conn)
        click.echo("已从原始数据重建全部汇总表")
    sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=8001, show_default=True, type=int, help="端口")
@click.option("--public-only", is_flag=True, help="只提供公开数据库 public.db（用于单独的公开服务器）")
@db_dir_option
def serve(host, port, public_only, db_dir):
    """启动数据浏览服务（Datasette，含本项目的配置、插件和模板）。

    数据目录中没有 community.db 时先用示例台账建立并生成 public.db；已有的工作库不会被
    重建或覆盖（只执行尚未执行的表结构迁移）。--public-only 只提供 public.db。

    \b
    示例：
      shequ serve
      shequ serve --host 0.0.0.0 --port 8080 --db-dir /srv/shequ
      shequ serve --public-only --host 0.0.0.0
    """
    import uvicorn

    from .app import make_datasette
    from .publish import build

    db_dir = datadir.resolve(db_dir)
    if public_only:
        if not datadir.public_db(db_dir).exists():
            raise click.ClickException(f"{datadir.public_db(db_dir)} 不存在：请先运行 shequ publish")
    else:
        fresh = not datadir.community_db(db_dir).exists()
        if fresh:
            click.echo("数据目录中还没有 community.db，正在用示例台账建立……")
            reports = build_sample(db_dir)
            if not all(r.ok for r in reports):
                _print_reports(reports)
                sys.exit(1)
        else:
            _open(db_dir).close()
        if fresh and not datadir.public_db(db_dir).exists():
            click.echo("正在生成公开数据库 public.db……")
            build(datadir.community_db(db_dir), datadir.public_db(db_dir))
        elif not datadir.public_db(db_dir).exists():
            click.echo("还没有公开数据库：运行 shequ publish 生成 public.db 后重启，公众才能看到公开数据。")
        conn = accounts.connect(datadir.accounts_db(db_dir))
        if not accounts.count_users(conn):
            click.echo("还没有任何工作人员账号。请先创建第一个管理员，例如：\n"
                       f"  shequ user add 管理员 --role admin --db-dir {db_dir}")
        conn.close()
    ds = make_datasette(db_dir, public_only=public_only)
    click.echo(f"社区民政数据台：http://{host}:{port}/")
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning")


@main.command("backup")
@click.option("--to", "to", type=click.Path(file_okay=False), default=None,
              help="备份存放目录（默认：数据目录下的 backups/）")
@click.option("--keep", default=14, show_default=True, type=click.IntRange(1), help="保留最近几份备份")
@db_dir_option
def backup_command(to, keep, db_dir):
    """在线备份 community.db 和 accounts.db（服务不必停止），附 SHA-256 校验和。

    \b
    示例：
      shequ backup
      shequ backup --to /mnt/backup/shequ --keep 30
    """
    from . import backup

    path = backup.backup(datadir.resolve(db_dir), to=to, keep=keep)
    click.echo(f"已备份到 {path}")


@main.command("restore")
@click.argument("backup_dir", type=click.Path(file_okay=False, exists=True))
@db_dir_option
def restore_command(backup_dir, db_dir):
    """校验一份备份（校验和与完整性检查）后换入数据目录。请先停止 shequ serve。

    被替换的文件保留在数据目录的 before-restore-<时间>/ 中。

    \b
    示例：
      shequ restore db/backups/20261128T120000000000Z
    """
    from . import backup

    try:
        kept = backup.restore(backup_dir, datadir.resolve(db_dir))
    except backup.BackupError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"已从 {backup_dir} 恢复；原来的文件保存在 {kept}")


@main.group()
def user():
    """管理工作人员账号（add、list、passwd）。

    \b
    示例：
      shequ user add 李娟 --role staff
      shequ user list
    """


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")


def _accounts(db_dir):
    return accounts.connect(datadir.accounts_db(datadir.resolve(db_dir)))


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), required=True,
              help="admin 管理员，staff 工作人员，viewer 只读查看")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行）")
@db_dir_option
def user_add(name, role, password_stdin, db_dir):
    """创建账号。

    \b
    示例：
      shequ user add 李娟 --role staff
      echo '一个足够长的密码' | shequ user add 王强 --role viewer --password-stdin
    """
    try:
        accounts.add_user(_accounts(db_dir), name, role, _read_password(password_stdin))
    except accounts.AccountError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"已创建账号「{name}」（{accounts.ROLE_LABELS[role]}）")


@user.command("list")
@db_dir_option
def user_list(db_dir):
    """列出所有账号及其角色。

    \b
    示例：
      shequ user list --db-dir /srv/shequ
    """
    rows = accounts.list_users(_accounts(db_dir))
    if not rows:
        click.echo("还没有任何账号")
    for username, role, disabled, created_at in rows:
        state = "（已停用）" if disabled else ""
        click.echo(f"{username}\t{accounts.ROLE_LABELS[role]}（{role}）{state}\t创建于 {created_at}")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取新密码（一行）")
@db_dir_option
def user_passwd(name, password_stdin, db_dir):
    """修改账号密码（该账号已登录的会话随即失效）。

    \b
    示例：
      shequ user passwd 李娟
    """
    try:
        accounts.set_password(_accounts(db_dir), name, _read_password(password_stdin))
    except accounts.AccountError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"已修改「{name}」的密码")



@main.group()
def token():
    """管理 API 令牌（create）：脚本和程序用令牌代替登录访问接口。

    请求时带上请求头 Authorization: Bearer <令牌>。令牌只在创建时显示一次，服务器只保存它的哈希。
    账号停用后，它的令牌立即失效；管理员也可在“账号管理”页撤销。

    \b
    示例：
      shequ token create 李娟 --role viewer --ttl 86400
      curl -H "Authorization: Bearer $(shequ token create 李娟)" \\
           http://127.0.0.1:8001/community/persons.json
    """


def _parse_ttl(value):
    if value is None:
        return None
    try:
        ttl = int(value)
    except ValueError:
        ttl = 0
    if ttl <= 0:
        raise click.ClickException(f"--ttl 必须是正整数（秒），不能是「{value}」")
    return ttl


@token.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), default=None,
              help="令牌的角色，默认与账号相同，只能相同或更低（admin > staff > viewer）")
@click.option("--ttl", metavar="秒数", default=None,
              help="有效期（秒，正整数）；不指定则长期有效，直到被撤销或账号停用")
@click.option("--label", default=None, help="令牌用途说明（可选，便于日后辨认）")
@db_dir_option
def token_create(name, role, ttl, label, db_dir):
    """为已有的启用账号创建 API 令牌，标准输出只打印令牌本身。

    NAME 是账号的用户名。令牌的角色默认与账号相同，可以更低、不能更高；每次请求都按账号当前的角色和状态重新核对（取两者中较低的角色）。

    \b
    示例：
      shequ token create 李娟
      shequ token create 李娟 --role viewer --ttl 3600 --label 月报脚本
      TOKEN=$(shequ token create 王强 --db-dir /srv/shequ)
    """
    ttl = _parse_ttl(ttl)
    try:
        value = accounts.create_token(_accounts(db_dir), name, role=role, ttl=ttl, name=label)
    except accounts.AccountError as e:
        raise click.ClickException(str(e)) from None
    click.echo(value)


if __name__ == "__main__":
    main()
