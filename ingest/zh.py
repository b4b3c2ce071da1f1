"""Chinese for every page: the dictionary and pure functions behind plugins/i18n.py.

Datasette's own templates and JavaScript are English. Rather than fork them, shequ
rewrites them on the way in:

* TEMPLATE_RULES: exact (old → new) source replacements applied to Datasette's
  templates before Jinja compiles them (plugins/i18n.py registers a Jinja extension
  whose `preprocess` calls `rewrite_template`). Literal English becomes Chinese;
  places that print English built in Python (error titles, action labels, filter
  descriptions, column names) are wrapped in the small functions below. Data values
  are never touched: they reach the page through `{{ … }}` at render time.
* JS_RULES: exact (old → new) replacements in Datasette's /-/static/*.js, applied by
  the ASGI wrapper in plugins/i18n.py (`rewrite_js`).
* PHRASES / PATTERNS: English strings that Python code hands to templates at run
  time (`t()`).

Every rule must match the installed Datasette (tests/test_chinese_ui.py checks
`missing_rules()`), so an upgrade that moves a string fails a test instead of quietly
showing English.
"""
from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal

from .app import load_yaml

# ── formatting ───────────────────────────────────────────────────────────────

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_ISO_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$")


def yuan(value) -> str:
    """18940 → '¥18,940.00'; negative amounts as '-¥12.50'; None → ''."""
    if value is None or value == "":
        return ""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


def date_prose(value) -> str:
    """'2012-01-23' (or a date) → '2012年1月23日'; '2012-10' → '2012年10月';
    '2012-01-23T09:05:00' → '2012年1月23日 09:05'. Anything else comes back unchanged."""
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return f"{value.year}年{value.month}月{value.day}日"
    text = str(value or "")
    m = _ISO_DATETIME.match(text)
    if m:
        return f"{int(m[1])}年{int(m[2])}月{int(m[3])}日 {m[4]}:{m[5]}"
    m = _ISO_DATE.match(text)
    if m:
        return f"{int(m[1])}年{int(m[2])}月{int(m[3])}日"
    m = _ISO_MONTH.match(text)
    if m and 1 <= int(m[2]) <= 12:
        return f"{int(m[1])}年{int(m[2])}月"
    return text


# ── labels from metadata.yml ─────────────────────────────────────────────────

SPECIAL_COLUMNS = {"rowid": "行号", "Link": "链接"}

# Columns of the stored queries (shared/spec/summaries.md): the same name always
# means the same thing in a query's output, unlike table columns ("category").
QUERY_COLUMNS = {
    "category": "类别", "program": "项目", "month": "月份", "year": "年份",
    "community": "社区", "payments": "发放笔数", "recipients": "受助人数",
    "total_yuan": "金额合计（元）", "suppressed": "已隐藏（1 = 是）",
    "group_name": "人群", "registered": "登记人数", "visited": "走访人数",
    "assisted": "受助人数", "visit_rate": "走访率", "assist_rate": "受助率",
    "term": "届次", "election_date": "选举日期", "method": "选举方式",
    "registered_voters": "登记选民数", "ballots_cast": "参加投票人数", "turnout": "投票率",
    "valid": "选举有效（1 = 是）", "seats": "应选名额", "elected": "当选人数",
    "dimension": "维度", "bucket": "分组", "members": "人数", "share": "占比",
}


def _metadata() -> dict:
    return load_yaml("metadata.yml") or {}


def _tables(database) -> dict:
    return ((_metadata().get("databases") or {}).get(database) or {}).get("tables") or {}


def database_title(database, short=False) -> str:
    """'community' → '社区民政工作库（仅限工作人员）' (short: '社区民政工作库')."""
    if not database:
        return ""
    title = ((_metadata().get("databases") or {}).get(database) or {}).get("title") or database
    if short:
        title = re.sub(r"（[^）]*）$", "", title) or title
    return title


def table_title(database, table) -> str:
    if not table:
        return ""
    return (_tables(database).get(table) or {}).get("title") or table


def column_labels(database, table) -> dict:
    columns = dict((_tables(database).get(table) or {}).get("columns") or {})
    labels = {**SPECIAL_COLUMNS, **columns}
    if table and str(table).endswith("_fts"):  # FTS5's hidden columns
        labels.setdefault(table, "全文")
        labels.setdefault("rank", "相关度")
    return labels


def column_label(database, table, column) -> str:
    """The Chinese label of a column from metadata.yml (either database); the column
    name itself when there is none."""
    if column is None:
        return ""
    return column_labels(database, table).get(column) or str(column)


_FROM_TABLE = re.compile(r'\bfrom\s+(?:\[([^\]]+)\]|"([^"]+)"|`([^`]+)`|([A-Za-z_][\w]*))',
                         re.IGNORECASE)


def query_column_label(database, column, sql=None) -> str:
    """A column of a query's output: the one table's label when the SQL reads a single
    table, else the summaries' vocabulary, else a label every table of the database
    agrees on, else the name."""
    if column is None:
        return ""
    column = str(column)
    if sql:
        froms = {next(g for g in m.groups() if g) for m in _FROM_TABLE.finditer(sql)}
        if len(froms) == 1 and not re.search(r"\bjoin\b", sql, re.IGNORECASE):
            label = (((_tables(database).get(froms.pop()) or {}).get("columns")) or {}).get(column)
            if label:
                return label
    if column in QUERY_COLUMNS:
        return QUERY_COLUMNS[column]
    found = {(t.get("columns") or {}).get(column) for t in _tables(database).values()
             if (t.get("columns") or {}).get(column)}
    if len(found) == 1:
        return found.pop()
    return SPECIAL_COLUMNS.get(column, column)


def crumb(label, database=None, table=None) -> str:
    """Breadcrumb labels: 'home', the database name, the table name."""
    if label == "home":
        return "首页"
    if database and label == database:
        return database_title(database, short=True)
    if table and label == table:
        return table_title(database, table)
    return t(label)


# ── run-time phrases ─────────────────────────────────────────────────────────

PHRASES = {
    # action menus (core items; plugin items are Chinese already)
    "Homepage actions": "首页操作", "Database actions": "数据库操作",
    "Table actions": "表操作", "View actions": "视图操作", "Row actions": "行操作",
    "Query actions": "查询操作",
    "Edit row": "编辑此行", "Open a dialog to edit this row.": "在对话框中编辑这一行。",
    "Delete row": "删除此行", "Open a confirmation dialog to delete this row.": "确认后删除这一行。",
    "Alter table": "修改表结构", "Change columns and primary key for this table.": "修改这张表的列和主键。",
    "Create table": "新建表", "Create a new table in this database.": "在这个数据库中新建一张表。",
    "Execute write SQL": "执行写入 SQL", "Run writable SQL with table permission checks.":
        "执行写入数据的 SQL（按表检查权限）。",
    "Edit this query": "编辑此查询", "Change the title, description, SQL or visibility.":
        "修改标题、说明、SQL 或可见范围。",
    "Delete this query": "删除此查询", "Permanently remove this saved query.": "永久删除这个保存的查询。",
    "View row": "查看这一行",
    # SQL and query pages
    "hide": "隐藏 SQL", "show": "显示 SQL",
    "json": "JSON", "csv": "CSV",
    "xlsx": "Excel", "excel_csv": "CSV（Excel 用）",  # plugins/exports.py's renderers
    # the queries list
    "Mode": "类型", "Read-only": "只读", "Writable": "写入", "Visibility": "可见范围",
    "Not private": "公开", "Private": "私有",
    # errors
    "Forbidden": "没有权限", "Not Found": "找不到页面", "Not found": "找不到页面",
    "Database not found": "没有这个数据库", "Table not found": "没有这张表",
    "Row not found": "没有这条记录", "Query not found": "没有这个查询", "No data": "没有数据",
    "You do not have permission to view this table": "您没有权限查看这张表",
    "You do not have permission to view this database": "您没有权限查看这个数据库",
    "You do not have permission to view this query": "您没有权限查看这个查询",
    "You do not have permission to view this instance": "您没有权限访问本站",
    "Database download is forbidden": "不允许下载这个数据库",
    "Database is immutable": "这个数据库只读，不能修改",
    "Method not allowed": "不支持这种请求方式",
    "Statement must be a SELECT": "只能执行 SELECT 查询",
    "execute-sql": "您没有权限执行自定义 SQL 查询",
    "view-instance": "您没有权限访问本站", "view-database": "您没有权限查看这个数据库",
    "view-table": "您没有权限查看这张表", "view-query": "您没有权限查看这个查询",
    "view-database-download": "您没有权限下载这个数据库",
    "insert-row": "您没有权限新增记录", "update-row": "您没有权限修改记录",
    "delete-row": "您没有权限删除记录", "store-query": "您没有权限保存查询",
    "Root token has already been used": "根令牌已经用过",
    "Invalid token": "令牌无效",
    "SQL query took too long. The time limit is controlled by the sql_time_limit_ms configuration option.":
        "SQL 查询耗时过长，已中止。",
    "Query interrupted": "查询已中断",
}

# (pattern, replacement) for run-time strings with a variable part.
PATTERNS = [
    (r"^Edit row (.+)$", r"编辑此行 \1"),
    (r"^Delete row (.+)$", r"删除此行 \1"),
    (r"^Alter table (.+)$", r"修改表结构 \1"),
    (r"^Create table in (.+)$", r"在 \1 中新建表"),
    (r"^Invalid format: (.*)$", r"不支持的格式：\1"),
    (r"^Record not found: (.*)$", r"没有这条记录：\1"),
    (r"^Query executed, (\d+) rows? affected$", r"已执行，影响 \1 行"),
    (r"^(\d+) bytes$", r"\1 字节"),
    (r"^Error (\d+)$", r"出错了（\1）"),
    (r"^Database '(.+)' is not mutable$", r"数据库“\1”只读，不能修改"),
    (r"^no such table: (.+)$", r"没有这张表：\1"),
    (r"^no such column: (.+)$", r"没有这一列：\1"),
    (r'^near "(.+)": syntax error$', r"SQL 语法错误（在“\1”附近）"),
    (r"^incomplete input$", r"SQL 语句不完整"),
]
_PATTERNS = [(re.compile(p), r) for p, r in PATTERNS]

ERROR_TITLES = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "找不到页面",
                405: "不支持这种请求方式", 429: "请求过于频繁", 500: "服务器出错"}


def t(text):
    """Translate one run-time UI string; anything unknown (and every Chinese string)
    comes back as it was. Markup stays Markup."""
    if text is None:
        return text
    s = str(text)
    key = s.strip()
    if key in PHRASES:
        out = PHRASES[key]
    else:
        for pattern, repl in _PATTERNS:
            if pattern.match(key):
                out = pattern.sub(repl, key)
                break
        else:
            return text
    if hasattr(text, "__html__"):
        return type(text)(out) if type(text) is not str else out
    return out


def error_message(message):
    """The message of an error page: Datasette's NotFound for an unknown path is just "404"."""
    if str(message).strip() == "404":
        return "没有这个页面"
    return t(message)


def error_title(title, status) -> str:
    if title:
        return t(title)
    try:
        status = int(status)
    except (TypeError, ValueError):
        return "出错了"
    return ERROR_TITLES.get(status, f"出错了（{status}）")


# ── filters, sorting and search in words ─────────────────────────────────────

LOOKUPS = {  # Datasette's filter "display" → the operator's name in the menu
    "contains": "包含", "does not contain": "不包含", "ends with": "结尾是",
    "starts with": "开头是", "like": "匹配模式", "not like": "不匹配模式",
    "glob": "匹配通配符", "in": "为下列之一", "not in": "不为下列任何一个",
    "array contains": "数组包含", "array does not contain": "数组不包含", "date": "日期为",
    "is null": "为空值", "is not null": "不为空值", "is blank": "为空", "is not blank": "不为空",
}

FACET_TYPES = {"date": "按日期", "array": "数组", "column": "列"}

_CLAUSES = {  # lookup key → clause; {c} column label, {v} value
    "exact": "{c}为{q}", "not": "{c}不为{q}", "contains": "{c}包含{q}",
    "notcontains": "{c}不包含{q}", "endswith": "{c}以{q}结尾", "startswith": "{c}以{q}开头",
    "gt": "{c} > {v}", "gte": "{c} ≥ {v}", "lt": "{c} < {v}", "lte": "{c} ≤ {v}",
    "like": "{c}匹配模式{q}", "notlike": "{c}不匹配模式{q}", "glob": "{c}匹配通配符{q}",
    "in": "{c}为{list}之一", "notin": "{c}不为{list}中的任何一个",
    "arraycontains": "{c}（数组）包含{q}", "arraynotcontains": "{c}（数组）不包含{q}",
    "date": "{c}的日期为 {d}", "isnull": "{c}为空值", "notnull": "{c}不为空值",
    "isblank": "{c}为空", "notblank": "{c}不为空",
}


def lookup(display) -> str:
    return LOOKUPS.get(display, display)


def facet_type(kind) -> str:
    return FACET_TYPES.get(kind, t(kind))


def _quoted(value) -> str:
    value = str(value)
    prose = date_prose(value)
    if prose != value:
        return prose
    return f"“{value}”"


def _in_list(value) -> str:
    value = str(value)
    try:
        items = json.loads(value) if value.startswith("[") else [v.strip() for v in value.split(",")]
    except ValueError:
        items = [value]
    return "、".join(_quoted(i) for i in items)


def describe(selections, label, search=None, sort=None, sort_desc=None) -> str:
    """The table page's summary in Chinese: which filters, search and sort apply.

    selections: (column, lookup, value) as Datasette's Filters.selections() yields;
    label: column name → label.
    """
    clauses = []
    if search:
        clauses.append(f"搜索“{search}”")
    for column, key, value in selections:
        template = _CLAUSES.get(key)
        if template is None:
            continue
        if key in ("exact", "not") and str(value).isdigit():
            template = template.replace("为{q}", " = {v}").replace("不 = {v}", " ≠ {v}")
        clauses.append(template.format(c=label(column), v=value, q=_quoted(value),
                                       list=_in_list(value), d=date_prose(value)))
    text = "，".join(clauses)
    if sort or sort_desc:
        order = f"按{label(sort or sort_desc)}{'降序' if sort_desc else '升序'}排列"
        text = f"{text}；{order}" if text else order
    return text


# ── Datasette's templates ────────────────────────────────────────────────────

_EXPORT_LINKS = (
    '{% for name, url in renderers.items() %}<a href="{{ url }}">{{ name }}</a>'
    '{{ ", " if not loop.last }}{% endfor %}')
_EXPORT_LINKS_ZH = (
    '{% for name, url in renderers.items() %}<a href="{{ url }}">{{ name|zh }}</a>'
    '{{ "、" if not loop.last }}{% endfor %}')
_LABELS_SCRIPT = ('<script>window._shequColumnLabels = {{ zh_column_labels(database, table)|tojson }};'
                  ' window._shequTableTitle = {{ zh_table(database, table)|tojson }};</script>')

TEMPLATE_RULES: dict[str, list[tuple[str, str]]] = {
    "base.html": [
        ('<html lang="en">', '<html lang="zh-CN">'),
        ('<title id="nav-menu-svg-title">Menu</title>', '<title id="nav-menu-svg-title">菜单</title>'),
        ('aria-keyshortcuts="/">Jump to... <kbd class="keyboard-shortcut" aria-hidden="true" '
         'title="Keyboard shortcut: press / to open Jump to">/</kbd>',
         'aria-keyshortcuts="/">跳转到…… <kbd class="keyboard-shortcut" aria-hidden="true" '
         'title="快捷键：按 / 打开跳转">/</kbd>'),
        ('<li><a href="{{ link.href }}">{{ link.label }}</a></li>',
         '<li><a href="{{ link.href }}">{{ link.label|zh }}</a></li>'),
        ('<button class="button-as-link">Log out</button>', '<button class="button-as-link">退出登录</button>'),
        ('{% endif %}">{{ message }}</p>', '{% endif %}">{{ message|zh }}</p>'),
    ],
    "_footer.html": [
        ('Powered by <a href="https://datasette.io/" title="Datasette v{{ datasette_version }}">Datasette</a>',
         '由 <a href="https://datasette.io/" title="Datasette v{{ datasette_version }}">Datasette</a> 驱动'),
        ('&middot; Queries took {{ query_ms|round(3) }}ms', '&middot; 查询用时 {{ query_ms|round(1) }} 毫秒'),
        ('&middot; Data license:', '&middot; 数据许可：'),
        ('Data source: {% if', '数据来源：{% if'),
        ('About: {% if', '关于：{% if'),
    ],
    "_description_source_license.html": [
        ('metadata.license_url %}Data license:', 'metadata.license_url %}数据许可：'),
        ('Data source: {% if', '数据来源：{% if'),
        ('About: {% if', '关于：{% if'),
    ],
    "_crumbs.html": [
        ('<a href="{{ item.href }}">{{ item.label }}</a>',
         '<a href="{{ item.href }}">{{ zh_crumb(item.label, database, table) }}</a>'),
    ],
    "_action_menu.html": [
        ('<title id="actions-menu-links-title">{{ action_title }}</title>',
         '<title id="actions-menu-links-title">{{ action_title|zh }}</title>'),
        ('<span>{{ action_title }}</span>', '<span>{{ action_title|zh }}</span>'),
        (' {{ name }}="{{ value }}"{% endfor %}>{{ link.label }}',
         ' {{ name }}="{{ value|zh if name in ("aria-label", "title") else value }}"{% endfor %}>{{ link.label|zh }}'),
        ('<a href="{{ link.href }}" role="menuitem" tabindex="-1">{{ link.label }}',
         '<a href="{{ link.href }}" role="menuitem" tabindex="-1">{{ link.label|zh }}'),
        ('<span class="dropdown-description">{{ link.description }}</span>',
         '<span class="dropdown-description">{{ link.description|zh }}</span>'),
    ],
    "index.html": [
        ('{% block title %}{{ metadata.title or "Datasette" }}: {% for database in databases %}'
         '{{ database.name }}{% if not loop.last %}, {% endif %}{% endfor %}{% endblock %}',
         '{% block title %}{{ metadata.title or "Datasette" }}{% endblock %}'),
        ('homepage_actions, "Homepage actions"', 'homepage_actions, "首页操作"'),
        ('<a href="{{ urls.database(database.name) }}">{{ database.name }}</a>',
         '<a href="{{ urls.database(database.name) }}" title="{{ database.name }}">{{ zh_db(database.name) }}</a>'),
        ('{% if database.show_table_row_counts %}{{ "{:,}".format(database.table_rows_sum) }} rows in {% endif %}'
         '{{ database.tables_count }} table{% if database.tables_count != 1 %}s{% endif %}'
         '{% if database.hidden_tables_count %}, {% endif -%}',
         '{{ database.tables_count }} 张表{% if database.show_table_row_counts %}，共 '
         '{{ "{:,}".format(database.table_rows_sum) }} 行{% endif %}'
         '{% if database.hidden_tables_count %}；{% endif -%}'),
        ('{% if database.show_table_row_counts %}{{ "{:,}".format(database.hidden_table_rows_sum) }} rows in {% endif %}'
         '{{ database.hidden_tables_count }} hidden table{% if database.hidden_tables_count != 1 %}s{% endif -%}',
         '另有 {{ database.hidden_tables_count }} 张隐藏表{% if database.show_table_row_counts %}（'
         '{{ "{:,}".format(database.hidden_table_rows_sum) }} 行）{% endif -%}'),
        (', {{ "{:,}".format(database.views_count) }} view{% if database.views_count != 1 %}s{% endif %}',
         '；{{ "{:,}".format(database.views_count) }} 个视图'),
        ('<a href="{{ urls.table(database.name, table.name) }}"{% if table.count %} title="{{ table.count }} rows"{% endif %}>'
         '{{ table.name }}</a>{% if table.private %} 🔒{% endif %}{% if not loop.last %}, {% endif %}{% endfor %}'
         '{% if database.tables_and_views_more %}, <a',
         '<a href="{{ urls.table(database.name, table.name) }}" title="{{ table.name }}{% if table.count %}：'
         '{{ "{:,}".format(table.count) }} 行{% endif %}">{{ zh_table(database.name, table.name) }}</a>'
         '{% if table.private %} 🔒{% endif %}{% if not loop.last %}、{% endif %}{% endfor %}'
         '{% if database.tables_and_views_more %}、<a'),
    ],
    "database.html": [
        ('{% block title %}{{ database }}{% endblock %}', '{% block title %}{{ zh_db(database) }}{% endblock %}'),
        ('database_actions(), "Database actions"', 'database_actions(), "数据库操作"'),
        ('<h3>Custom SQL query</h3>', '<h3>自定义 SQL 查询</h3>'),
        ('hidden>Format SQL</button>', 'hidden>格式化 SQL</button>'),
        ('<input type="submit" value="Run SQL">', '<input type="submit" value="运行 SQL">'),
        ('<p>The following databases are attached to this connection, and can be used for cross-database joins:</p>',
         '<p>以下数据库已附加到这个连接，可以跨库连接查询：</p>'),
        ("where+type='table'\">tables</a>", "where+type='table'\">数据表</a>"),
        ('<h2 id="queries">Queries</h2>', '<h2 id="queries">存储查询</h2>'),
        ('View {{ "{:,}".format(queries_count) }} quer{% if queries_count == 1 %}y{% else %}ies{% endif %}',
         '查看全部 {{ "{:,}".format(queries_count) }} 个查询'),
        ('<h2 id="tables">Tables <a', '<h2 id="tables">数据表 <a'),
        ('/-/schema">schema</a></h2>', '/-/schema">表结构</a></h2>'),
        ('<h3><a href="{{ urls.table(database, table.name) }}">{{ table.name }}</a>',
         '<h3><a href="{{ urls.table(database, table.name) }}" title="{{ table.name }}">{{ zh_table(database, table.name) }}</a>'),
        ('<em> (hidden)</em>', '<em>（隐藏）</em>'),
        ('<p><em>{% for column in table.columns %}{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}</em></p>',
         '<p><em>{% for column in table.columns %}<span title="{{ column }}">{{ zh_col(database, table.name, column) }}</span>'
         '{% if not loop.last %}、{% endif %}{% endfor %}</em></p>'),
        ('{% if table.count is none %}Many rows{% elif table.count_truncated %}&gt;{{ "{:,}".format(table.count - 1) }} rows'
         '{% else %}{{ "{:,}".format(table.count) }} row{% if table.count == 1 %}{% else %}s{% endif %}{% endif %}',
         '{% if table.count is none %}行数较多{% elif table.count_truncated %}超过 {{ "{:,}".format(table.count - 1) }} 行'
         '{% else %}{{ "{:,}".format(table.count) }} 行{% endif %}'),
        ('<p>... and <a href="{{ urls.database(database) }}?_show_hidden=1">{{ "{:,}".format(hidden_count) }} hidden table'
         '{% if hidden_count == 1 %}{% else %}s{% endif %}</a></p>',
         '<p>……另有 <a href="{{ urls.database(database) }}?_show_hidden=1">{{ "{:,}".format(hidden_count) }} 张隐藏表</a></p>'),
        ('<h2 id="views">Views</h2>', '<h2 id="views">视图</h2>'),
        ('{{ view.name|urlencode }}">{{ view.name }}</a>',
         '{{ view.name|urlencode }}" title="{{ view.name }}">{{ zh_table(database, view.name) }}</a>'),
        ('Download SQLite DB: <a href="{{ urls.database(database) }}.db" rel="nofollow">{{ database }}.db</a> '
         '<em>{{ format_bytes(size) }}</em>',
         '下载 SQLite 数据库文件：<a href="{{ urls.database(database) }}.db" rel="nofollow"><code>{{ database }}.db</code></a> '
         '<em>{{ format_bytes(size)|zh }}</em>'),
    ],
    "table.html": [
        ('{% block title %}{{ database }}: {{ table }}: {% if count_truncated %}{{ "{:,}".format(count - 1) }}+ rows'
         '{% elif count or count == 0 %}{{ "{:,}".format(count) }} row{% if count == 1 %}{% else %}s{% endif %}{% endif %}'
         '{% if human_description_en %} {{ human_description_en }}{% endif %}{% endblock %}',
         '{% block title %}{{ zh_table(database, table) }} · {{ zh_db(database, true) }}：'
         '{% if count_truncated %}超过 {{ "{:,}".format(count - 1) }} 行{% elif count or count == 0 %}共 {{ "{:,}".format(count) }} 行{% endif %}'
         '{% set zh_summary = zh_description(filters, request, database, table, human_description_en) %}{% if zh_summary %}，{{ zh_summary }}{% endif %}'
         '{% endblock %}'),
        ('<script>window._datasetteTableData = {{ table_page_data|tojson }};</script>',
         '<script>window._datasetteTableData = {{ table_page_data|tojson }};</script>\n' + _LABELS_SCRIPT),
        ('content: "{{ column.name|escape_css_string }}"',
         'content: "{{ zh_col(database, table, column.name)|escape_css_string }}"'),
        ('{% if is_view %} (view){% endif %}', '{% if is_view %}（视图）{% endif %}'),
        ('actions(), "View actions" if is_view else "Table actions"', 'actions(), "视图操作" if is_view else "表操作"'),
        ('<dl class="column-descriptions">\n    {% for column_name, column_description in metadata.columns.items() %}\n'
         '        <dt>{{ column_name }}</dt><dd>{{ column_description }}</dd>\n    {% endfor %}\n</dl>',
         '<details class="column-descriptions-details"><summary>列名对照（JSON、CSV 中的列名）</summary>\n'
         '<dl class="column-descriptions">\n    {% for column_name, column_description in metadata.columns.items() %}\n'
         '        <dt>{{ column_description }}</dt><dd><code>{{ column_name }}</code></dd>\n    {% endfor %}\n</dl></details>'),
        ('<span class="table-count" aria-live="polite">{{ "{:,}".format(count - 1) }}+ rows</span>',
         '<span class="table-count" aria-live="polite">超过 {{ "{:,}".format(count - 1) }} 行</span>'),
        ('/-/count">count all</button>', '/-/count">统计全部</button>'),
        ('{% elif count or count == 0 %}{{ "{:,}".format(count) }} row{% if count == 1 %}{% else %}s{% endif %}{% endif %}\n'
         '        {% if human_description_en %}<span class="table-summary-description">{{ human_description_en }}</span>{% endif %}',
         '{% elif count or count == 0 %}共 {{ "{:,}".format(count) }} 行{% endif %}\n'
         '        {% set zh_summary = zh_description(filters, request, database, table, human_description_en) %}'
         '{% if zh_summary %}<span class="table-summary-description">：{{ zh_summary }}</span>{% endif %}'),
        ('<label for="_search">Search:</label>', '<label for="_search">搜索：</label>'),
        ('<option value="">- remove filter -</option>', '<option value="">- 删除此条件 -</option>'),
        ('<option{% if c == column %} selected{% endif %}>{{ c }}</option>',
         '<option value="{{ c }}"{% if c == column %} selected{% endif %}>{{ zh_col(database, table, c) }}</option>'),
        ('{% if key == lookup %} selected{% endif %}>{{ display }}</option>',
         '{% if key == lookup %} selected{% endif %}>{{ zh_lookup(display) }}</option>'),
        ('<option value="">- column -</option>', '<option value="">- 选择列 -</option>'),
        ('<option>{{ column }}</option>', '<option value="{{ column }}">{{ zh_col(database, table, column) }}</option>'),
        ('{% if no_argument %}__1{% endif %}">{{ display }}</option>',
         '{% if no_argument %}__1{% endif %}">{{ zh_lookup(display) }}</option>'),
        ('<option value="">Sort...</option>', '<option value="">排序……</option>'),
        ('{% endif %}>Sort by {{ column.name }}</option>', '{% endif %}>按{{ zh_col(database, table, column.name) }}排序</option>'),
        ('{% if sort_desc %} checked{% endif %}> descending</label>', '{% if sort_desc %} checked{% endif %}> 降序</label>'),
        ('<input type="submit" value="Apply filters" tabindex="0">', '<input type="submit" value="应用" tabindex="0">'),
        ('<h3>{{ extra_wheres_for_ui|length }} extra where clause{% if extra_wheres_for_ui|length != 1 %}s{% endif %}</h3>',
         '<h3>{{ extra_wheres_for_ui|length }} 个附加 SQL 条件</h3>'),
        ('[<a href="{{ extra_where.remove_url }}">remove</a>]', '［<a href="{{ extra_where.remove_url }}">移除</a>］'),
        ('<span class="underlined">View and edit SQL</span>', '<span class="underlined">查看和编辑 SQL</span>'),
        ('<p class="export-links">This data as ' + _EXPORT_LINKS + '{% if display_rows %}, <a href="{{ url_csv }}">CSV</a> '
         '(<a href="#export">advanced</a>){% endif %}</p>',
         '<p class="export-links">导出数据：' + _EXPORT_LINKS_ZH + '{% if display_rows %}、<a href="{{ url_csv }}">CSV</a>'
         '（<a href="#export">高级选项</a>）{% endif %}</p>'),
        ('These facets timed out: {{ ", ".join(facets_timed_out) }}',
         '以下分类统计超时：{% for f in facets_timed_out %}{{ zh_col(database, table, f) }}{% if not loop.last %}、{% endif %}{% endfor %}'),
        ('onclick="openColumnChooser()">Choose columns</button>', 'onclick="openColumnChooser()">选择显示的列</button>'),
        ('<span>Column actions</span>', '<span>列操作</span>'),
        ('<span>Insert row</span>', '<span>新增一行</span>'),
        ('<a href="{{ next_url }}">Next page</a>', '<a href="{{ next_url }}">下一页</a>'),
        ('<h3>Advanced export</h3>', '<h3>高级导出</h3>'),
        ('<p>JSON shape:', '<p>JSON 格式：'),
        ("<a href=\"{{ renderers['json'] }}\">default</a>,", "<a href=\"{{ renderers['json'] }}\">默认</a>、"),
        ("'_shape=array') }}\">array</a>,", "'_shape=array') }}\">数组</a>、"),
        ("'_shape=array&_nl=on') }}\">newline-delimited</a>{% if primary_keys %},",
         "'_shape=array&_nl=on') }}\">每行一条</a>{% if primary_keys %}、"),
        ("'_shape=object') }}\">object</a>", "'_shape=object') }}\">以主键为键的对象</a>"),
        ('                CSV options:', '                CSV 选项：'),
        ('<input type="checkbox" name="_dl"> download file</label>', '<input type="checkbox" name="_dl"> 下载为文件</label>'),
        ('name="_labels" checked> expand labels</label>', 'name="_labels" checked> 外键显示名称</label>'),
        ('name="_stream"> stream all rows</label>', 'name="_stream"> 导出全部行</label>'),
        ('<input type="submit" value="Export CSV">', '<input type="submit" value="导出 CSV">'),
        ("span.textContent = 'counting...';", "span.textContent = '正在统计……';"),
        ("span.closest('h3').textContent = formattedCount + ' rows';",
         "span.closest('h3').textContent = '共 ' + formattedCount + ' 行';"),
        ('window._columnChooserData = {{ {"allColumns": all_columns,',
         'window._columnChooserData = {{ {"labels": zh_column_labels(database, table), "allColumns": all_columns,'),
    ],
    "_table.html": [
        ('class="col-{{ column.name|to_css_class }}" scope="col" data-column="{{ column.name }}"',
         'class="col-{{ column.name|to_css_class }}" scope="col"'
         '{% if not column.is_special_link_column %} title="{{ column.name }}"{% endif %} data-column="{{ column.name }}"'),
        ('{% if not column.sortable %}\n                            {{ column.name }}',
         '{% if not column.sortable %}\n                            {{ zh_col(database, table, column.name) }}'),
        ('rel="nofollow">{{ column.name }}&nbsp;▼</a>', 'rel="nofollow">{{ zh_col(database, table, column.name) }}&nbsp;▼</a>'),
        ('rel="nofollow">{{ column.name }}{% if column.name == sort_desc %}&nbsp;▲{% endif %}</a>',
         'rel="nofollow">{{ zh_col(database, table, column.name) }}{% if column.name == sort_desc %}&nbsp;▲{% endif %}</a>'),
        ('type-{{ cell.value_type }}">{{ cell.value }}</td>',
         'type-{{ cell.value_type }}">{{ zh_pk_cell(cell.value) if cell.value_type == "pk" else cell.value }}</td>'),
        ('<p class="zero-results">0 records</p>', '<p class="zero-results">没有记录</p>'),
    ],
    "_facet_results.html": [
        ('<strong>{{ facet_info.name }}{% if facet_info.type != "column" %} ({{ facet_info.type }}){% endif %}',
         '<strong title="{{ facet_info.name }}">{{ zh_col(database, table, facet_info.name) }}'
         '{% if facet_info.type != "column" %}（{{ zh_facet_type(facet_info.type) }}）{% endif %}'),
    ],
    "_suggested_facets.html": [
        ('Suggested facets: {% for facet in suggested_facets %}', '建议分类统计：{% for facet in suggested_facets %}'),
        ('#facet-{{ facet.name|to_css_class }}">{{ facet.name }}</a>{% if facet.get("type") %} ({{ facet.type }}){% endif %}'
         '{% if not loop.last %}, {% endif %}',
         '#facet-{{ facet.name|to_css_class }}" title="{{ facet.name }}">{{ zh_col(database, table, facet.name) }}</a>'
         '{% if facet.get("type") %}（{{ zh_facet_type(facet.type) }}）{% endif %}{% if not loop.last %}、{% endif %}'),
    ],
    "row.html": [
        ('{% block title %}{{ database }}: {{ table }}{% endblock %}',
         '{% block title %}{{ zh_table(database, table) }}：{{ \', \'.join(primary_key_values) }} · {{ zh_db(database, true) }}{% endblock %}'),
        ('<script>window._datasetteTableData = {{ table_page_data|tojson }};</script>',
         '<script>window._datasetteTableData = {{ table_page_data|tojson }};</script>\n' + _LABELS_SCRIPT),
        ('content: "{{ column|escape_css_string }}"', 'content: "{{ zh_col(database, table, column)|escape_css_string }}"'),
        ('#{{ database_color }}">{{ table }}: {{ \', \'.join(primary_key_values) }}',
         '#{{ database_color }}">{{ zh_table(database, table) }}：{{ \', \'.join(primary_key_values) }}'),
        ('row_actions, "Row actions"', 'row_actions, "行操作"'),
        ('<p>This data as ' + _EXPORT_LINKS + '</p>', '<p>导出数据：' + _EXPORT_LINKS_ZH + '</p>'),
        ('<h2>Links from other tables</h2>', '<h2>其他表中指向这一行的记录</h2>'),
        ('<li>\n                <a href="{{ other.link }}">\n'
         '                    {{ "{:,}".format(other.count) }} row{% if other.count == 1 %}{% else %}s{% endif %}</a>\n'
         '                from {{ other.other_column }} in {{ other.other_table }}\n            </li>',
         '<li>\n                <span title="{{ other.other_table }}.{{ other.other_column }}">'
         '{{ zh_table(database, other.other_table) }}（{{ zh_col(database, other.other_table, other.other_column) }}）</span>：'
         '<a href="{{ other.link }}">{{ "{:,}".format(other.count) }} 行</a>\n            </li>'),
    ],
    "query.html": [
        ('{% block title %}{{ database }}{% if query and query.sql %}: {{ query.sql }}{% endif %}{% endblock %}',
         '{% block title %}{% if stored_query %}{{ metadata.title or stored_query }}{% else %}SQL 查询{% endif %}'
         ' · {{ zh_db(database, true) }}{% endblock %}'),
        ('content: "{{ column|escape_css_string }}"',
         'content: "{{ zh_qcol(database, column, query.sql if query else \'\')|escape_css_string }}"'),
        ('<p class="message-error">This query cannot be executed because the database is immutable.</p>',
         '<p class="message-error">这个数据库只读，不能执行这个写入查询。</p>'),
        ('query_actions(), "Query actions"', 'query_actions(), "查询操作"'),
        ('<h3>Custom SQL query{% if display_rows %} returning {% if truncated %}more than {% endif %}'
         '{{ "{:,}".format(display_rows|length) }} row{% if display_rows|length == 1 %}{% else %}s{% endif %}{% endif %}',
         '<h3>{% if stored_query_write %}写入操作{% elif stored_query %}查询{% else %}自定义 SQL 查询{% endif %}'
         '{% if display_rows %}：返回'
         '{% if truncated %}超过{% endif %} {{ "{:,}".format(display_rows|length) }} 行{% endif %}'),
        ('<span class="show-hide-sql">(<a href="{{ show_hide_link }}">{{ show_hide_text }}</a>)</span>',
         '<span class="show-hide-sql">（<a href="{{ show_hide_link }}">{{ show_hide_text|zh }}</a>）</span>'),
        ('<p class="message-error">{{ error }}</p>', '<p class="message-error">{{ error|zh }}</p>'),
        ('hidden>Format SQL</button>', 'hidden>格式化 SQL</button>'),
        ('value="Run SQL"', 'value="{% if stored_query_write %}执行{% elif stored_query %}查询{% else %}运行 SQL{% endif %}"'),
        ('class="save-query">Save this query</a>', 'class="save-query">保存此查询</a>'),
        ('class="stored-query-edit-sql">Edit SQL</a>', 'class="stored-query-edit-sql">编辑 SQL</a>'),
        ('<p class="export-links">This data as ' + _EXPORT_LINKS + ', <a href="{{ url_csv }}">CSV</a></p>',
         '<p class="export-links">导出数据：' + _EXPORT_LINKS_ZH + '、<a href="{{ url_csv }}">CSV</a></p>'),
    ],
    "_query_results.html": [
        ('<th class="col-{{ column|to_css_class }}" scope="col">{{ column }}</th>',
         '<th class="col-{{ column|to_css_class }}" scope="col" title="{{ column }}">'
         '{{ zh_qcol(database, column, query.sql if query else \'\') }}</th>'),
        ('<p class="zero-results">0 results</p>', '<p class="zero-results">没有结果</p>'),
    ],
    "_sql_parameter_scripts.html": [
        ('heading.textContent = "Parameters";', 'heading.textContent = "查询条件";'),
        ('label.textContent = parameter;',
         'label.textContent = ({{ (param_labels or {})|tojson }})[parameter] || parameter;\n'
         '      label.title = parameter;'),
        ('"Collapse" : "Expand"', '"收起" : "展开"'),
    ],
    "error.html": [
        ('{% block title %}{% if title %}{{ title }}{% else %}Error {{ status }}{% endif %}{% endblock %}',
         '{% block title %}{{ zh_error_title(title, status) }}{% endblock %}'),
        ('<h1>{% if title %}{{ title }}{% else %}Error {{ status }}{% endif %}</h1>',
         '<h1>{{ zh_error_title(title, status) }}</h1>'),
        ('border: 3px solid red;">{{ error }}</div>', 'border: 3px solid red;">{{ zh_error(error) }}</div>'),
    ],
    "csrf_error.html": [
        ('{% block title %}CSRF check failed{% endblock %}', '{% block title %}表单来源校验失败{% endblock %}'),
        ('<h1>Form origin check failed</h1>', '<h1>表单来源校验失败</h1>'),
        ("<p>Your request's origin could not be validated. Please return to the form and submit it again.</p>",
         '<p>无法确认这次提交来自本站的表单。请返回表单页面重新提交。</p>'),
        ('<summary>Technical details</summary>', '<summary>技术细节</summary>'),
        ("<p>Developers: consult Datasette's <a href=\"https://docs.datasette.io/en/latest/internals.html#csrf-protection\">"
         "CSRF protection documentation</a>.</p>",
         '<p>开发者请参阅 Datasette 的 <a href="https://docs.datasette.io/en/latest/internals.html#csrf-protection">'
         'CSRF 防护文档</a>。</p>'),
        ('<p>Reason: {{ reason }}</p>', '<p>原因：<code>{{ reason }}</code></p>'),
    ],
    "logout.html": [
        ('{% block title %}Log out{% endblock %}', '{% block title %}退出登录{% endblock %}'),
        ('<h1>Log out</h1>', '<h1>退出登录</h1>'),
        ('<p>You are logged in as <strong>{{ display_actor(actor) }}</strong></p>',
         '<p>当前登录用户：<strong>{{ display_actor(actor) }}</strong></p>'),
        ('<input type="submit" value="Log out">', '<input type="submit" value="退出登录">'),
    ],
    "schema.html": [
        ('{% block title %}{% if is_instance %}Schema for all databases{% elif table_name %}Schema for '
         '{{ schemas[0].database }}.{{ table_name }}{% else %}Schema for {{ schemas[0].database }}{% endif %}{% endblock %}',
         '{% block title %}{% if is_instance %}全部数据库的表结构{% elif table_name %}表结构：'
         '{{ zh_table(schemas[0].database, table_name) }}{% else %}表结构：{{ zh_db(schemas[0].database) }}{% endif %}{% endblock %}'),
        ('<h1>{% if is_instance %}Schema for all databases{% elif table_name %}Schema for {{ table_name }}'
         '{% else %}Schema for {{ schemas[0].database }}{% endif %}</h1>',
         '<h1>{% if is_instance %}全部数据库的表结构{% elif table_name %}表结构：{{ zh_table(schemas[0].database, table_name) }}'
         '{% else %}表结构：{{ zh_db(schemas[0].database) }}{% endif %}</h1>'),
        ('<h2>{{ item.database }}</h2>', '<h2 title="{{ item.database }}">{{ zh_db(item.database) }}</h2>'),
        ('<p><em>No schema available for this database.</em></p>', '<p><em>这个数据库没有可显示的表结构。</em></p>'),
        ('<p><em>No databases with viewable schemas found.</em></p>', '<p><em>没有可显示表结构的数据库。</em></p>'),
    ],
    "query_list.html": [
        ('{% block title %}{% if database %}{{ database }}: {% endif %}queries{% endblock %}',
         '{% block title %}存储查询{% if database %} · {{ zh_db(database, true) }}{% endif %}{% endblock %}'),
        ('{% else %}666{% endif %}">Queries</h1>', '{% else %}666{% endif %}">存储查询</h1>'),
        ('<label for="query-search">Search</label>', '<label for="query-search">搜索</label>'),
        ('<button type="submit">Search</button>', '<button type="submit">搜索</button>'),
        ('aria-label="Query filters"', 'aria-label="筛选查询"'),
        ('<h2>{{ facet.title }}</h2>', '<h2>{{ facet.title|zh }}</h2>'),
        ('<span>{{ item.label }}</span>', '<span>{{ item.label|zh }}</span>'),
        ('<th scope="col">Database</th>', '<th scope="col">数据库</th>'),
        ('<th scope="col">Query</th>', '<th scope="col">查询</th>'),
        ('<th scope="col">Owner</th>', '<th scope="col">创建人</th>'),
        ('<th scope="col">Flags</th>', '<th scope="col">属性</th>'),
        ('{{ urls.database(query.database) }}">{{ query.database }}</a>',
         '{{ urls.database(query.database) }}" title="{{ query.database }}">{{ zh_db(query.database, true) }}</a>'),
        ('query-list-pill-write">Writable</span>', 'query-list-pill-write">写入</span>'),
        ('<span class="query-list-pill">Read-only</span>', '<span class="query-list-pill">只读</span>'),
        ('{% if query.is_private %}<span class="query-list-pill query-list-pill-private">Private</span>',
         '{% if query.is_private %}<span class="query-list-pill query-list-pill-private">私有</span>'),
        ('{% if query.is_trusted %}<span class="query-list-pill query-list-pill-trusted">Trusted</span>',
         '{% if query.is_trusted %}<span class="query-list-pill query-list-pill-trusted">受信任</span>'),
        ('<span class="query-list-pill query-list-pill-private">Private</span>Only the owning actor can view this query.',
         '<span class="query-list-pill query-list-pill-private">私有</span>只有创建人可以查看这个查询。'),
        ('<span class="query-list-pill query-list-pill-trusted">Trusted</span>Execution skips the usual SQL and write '
         'permission checks after view-query allows access.',
         '<span class="query-list-pill query-list-pill-trusted">受信任</span>由管理员在配置中定义：'
         '能查看这个查询的人即可执行它，不再另行检查 SQL 和写入权限。'),
        ('<p>No queries found.</p>', '<p>没有找到查询。</p>'),
        ('aria-label="Query pagination"><a href="{{ next_url }}">Next page</a>',
         'aria-label="查询列表翻页"><a href="{{ next_url }}">下一页</a>'),
    ],
}


# The first cell of a table row is built in Python (datasette/views/table.py): the row
# link and, for writers, edit and delete buttons with English labels.
PK_CELL_RULES = [
    ('aria-label="Row actions"', 'aria-label="行操作"'),
    ('aria-label="Edit row ', 'aria-label="编辑此行 '), ('title="Edit row"', 'title="编辑此行"'),
    ('aria-label="Delete row ', 'aria-label="删除此行 '), ('title="Delete row"', 'title="删除此行"'),
]


def rewrite_template(name: str, source: str) -> tuple[str, list[str]]:
    """Apply TEMPLATE_RULES[name] to a Datasette template source; returns the new
    source and the `old` strings that did not match."""
    missing = []
    for old, new in TEMPLATE_RULES.get(name, ()):
        if old in source:
            source = source.replace(old, new)
        else:
            missing.append(old)
    return source, missing


# ── Datasette's JavaScript ───────────────────────────────────────────────────

def _label_of(expr: str) -> str:
    """JS: the Chinese label of the column named by `expr`, from the page's label map."""
    return f"((window._shequColumnLabels || {{}})[{expr}] || {expr})"

JS_RULES: dict[str, list[tuple[str, str]]] = {
    "table.js": [
        ('var notNull = th.dataset.columnNotNull === "1" ? " NOT NULL" : "";\n'
         '  return `Type: ${columnType.toUpperCase()}${notNull}`;',
         'var notNull = th.dataset.columnNotNull === "1" ? "，必填" : "";\n'
         '  var zhType = {integer: "整数", int: "整数", text: "文本", real: "小数", float: "小数",\n'
         '    numeric: "数值", blob: "二进制", date: "日期", datetime: "日期时间"}[columnType.toLowerCase()];\n'
         '  return `类型：${zhType || columnType.toUpperCase()}${notNull}`;'),
        ('? `Custom type: ${columnConfig.current.type}`\n    : "Set custom type";',
         '? `自定义类型：${columnConfig.current.type}`\n    : "设置自定义类型";'),
        ('"Saving..." : "Save"', '"正在保存……" : "保存"'),
        ('id="set-column-type-title">Set custom type</span>', 'id="set-column-type-title">设置自定义类型</span>'),
        ('set-column-type-cancel">Cancel</button>', 'set-column-type-cancel">取消</button>'),
        ('set-column-type-save">Save</button>', 'set-column-type-save">保存</button>'),
        ('"Request failed"', '"请求失败"'),
        ('`Column: ${column}`', '`列：${' + _label_of("column") + '}`'),
        ('"Type unavailable"', '"类型未知"'),
        ('`Current custom type: ${columnConfig.current.type}`', '`当前自定义类型：${columnConfig.current.type}`'),
        ('"No custom type set."', '"未设置自定义类型。"'),
        ('"No custom type"', '"不使用自定义类型"'),
        ('"Use standard Datasette rendering without a custom type."', '"按默认方式显示和编辑。"'),
        ('"No registered custom types are compatible with this SQLite type."', '"没有适用于这种列类型的自定义类型。"'),
        ('label: "Sort ascending"', 'label: "升序排列"'),
        ('label: "Sort descending"', 'label: "降序排列"'),
        ('label: "Facet by this"', 'label: "按此列分类统计"'),
        ('label: "Choose columns"', 'label: "选择显示的列"'),
        ('label: "Hide this column"', 'label: "隐藏此列"'),
        ('label: "Show all columns"', 'label: "显示全部列"'),
        ('label: "Show not-blank rows"', 'label: "只看此列不为空的行"'),
        ('"Remove this filter"', '"删除此条件"'),
        ('"Add another filter"', '"再加一个条件"'),
        ('button.textContent = "Counting…";', 'button.textContent = "正在统计……";'),
        ('"Count failed"', '"统计失败"'),
        ('count.textContent =\n        data.count.toLocaleString("en-US") +\n        (data.count === 1 ? " row" : " rows");',
         'count.textContent = "共 " + data.count.toLocaleString("en-US") + " 行";'),
        ('button.textContent = "count all";', 'button.textContent = "统计全部";'),
    ],
    "column-chooser.js": [
        ('id="${this.titleId}">Choose columns</span>', 'id="${this.titleId}">选择显示的列</span>'),
        ('<button class="select-all">Select all</button>', '<button class="select-all">全选</button>'),
        ('<button class="deselect-all">Deselect all</button>', '<button class="deselect-all">全不选</button>'),
        ('<button class="modal-btn modal-btn-ghost">Cancel</button>', '<button class="modal-btn modal-btn-ghost">取消</button>'),
        ('<button class="modal-btn modal-btn-primary">Apply</button>', '<button class="modal-btn modal-btn-primary">应用</button>'),
        ('aria-label="Drag to reorder"', 'aria-label="拖动以调整顺序"'),
        ('li.querySelector(".drag-item-label").textContent = col;',
         'li.querySelector(".drag-item-label").textContent = '
         '((window._columnChooserData && window._columnChooserData.labels) || {})[col] || col;\n'
         '      li.querySelector(".drag-item-label").title = col;'),
        ('`${n} of ${this._items.length} selected`', '`已选 ${n} / ${this._items.length} 列`'),
        ('`${this._items.length} columns`', '`共 ${this._items.length} 列`'),
    ],
    "mobile-column-actions.js": [
        ('parts.push(th.dataset.columnType);',
         'parts.push({integer: "整数", int: "整数", text: "文本", real: "小数", float: "小数", numeric: "数值",\n'
         '      blob: "二进制", date: "日期", datetime: "日期时间"}[th.dataset.columnType.toLowerCase()] ||\n'
         '      th.dataset.columnType);'),
        ('parts.push("pk");', 'parts.push("主键");'),
        ('parts.push("not null");', 'parts.push("必填");'),
        ('return parts.join(", ");', 'return parts.join("，");'),
        ('id="${MOBILE_COLUMN_DIALOG_TITLE_ID}">Column actions</span>', 'id="${MOBILE_COLUMN_DIALOG_TITLE_ID}">列操作</span>'),
        ('<span class="footer-info">Tap a column to reveal actions.</span>', '<span class="footer-info">点按列名查看可用的操作。</span>'),
        ('mobile-column-actions-done">Done</button>', 'mobile-column-actions-done">完成</button>'),
        ('`${headers.length} column${\n      headers.length === 1 ? "" : "s"\n    }`', '`共 ${headers.length} 列`'),
        ('showAllColumns.textContent = "Show all columns";', 'showAllColumns.textContent = "显示全部列";'),
        ('name.textContent = th.dataset.column;',
         'name.textContent = ' + _label_of("th.dataset.column") + ';\n      name.title = th.dataset.column;'),
        ('noActions.textContent = "No actions available";', 'noActions.textContent = "没有可用的操作";'),
    ],
    "autocomplete.js": [
        ('this.status.textContent = "Searching...";', 'this.status.textContent = "正在搜索……";'),
        ('this.status.textContent = "Could not load suggestions";', 'this.status.textContent = "无法加载候选项";'),
        ('this.status.textContent = "No matches";', 'this.status.textContent = "没有匹配项";'),
        ('this.results.length + (this.results.length === 1 ? " match" : " matches");',
         '"找到 " + this.results.length + " 项";'),
        ('this.status.textContent = "Selected " + label;', 'this.status.textContent = "已选择 " + label;'),
    ],
    "navigation-search.js": [
        ('class="visually-hidden">Jump to</h2>', 'class="visually-hidden">跳转到</h2>'),
        ('class="visually-hidden">Type to search. Use up and down arrow keys to move through results, Enter to select a '
         'result, and Escape to close this menu.</p>',
         'class="visually-hidden">输入文字搜索。用上下方向键在结果中移动，回车键打开选中的结果，Esc 键关闭此菜单。</p>'),
        ('placeholder="Jump to..."', 'placeholder="跳转到……（表名、查询名）"'),
        ('aria-label="Jump to"', 'aria-label="跳转到"'),
        ('aria-label="Close jump menu"', 'aria-label="关闭跳转菜单"'),
        ('<span><kbd>↑</kbd> <kbd>↓</kbd> Navigate</span>', '<span><kbd>↑</kbd> <kbd>↓</kbd> 移动</span>'),
        ('<span><kbd>Enter</kbd> Select</span>', '<span><kbd>回车</kbd> 打开</span>'),
        ('<span><kbd>Esc</kbd> Close</span>', '<span><kbd>Esc</kbd> 关闭</span>'),
        ('"More than 100 results. Keep typing to narrow the list."', '"结果超过 100 项，请继续输入以缩小范围。"'),
        ('"No results found."', '"没有找到结果。"'),
        ('"1 result."', '"找到 1 项。"'),
        ('`${count} results.`', '`找到 ${count} 项。`'),
        ('this.setStatus("Searching...");', 'this.setStatus("正在搜索……");'),
        ('this.setStatus("Search failed.");', 'this.setStatus("搜索失败。");'),
        ('this.setStatus("Recent items cleared.");', 'this.setStatus("已清除最近访问。");'),
        ('`<div class="result-type">${this.escapeHtml(match.type)}</div>`',
         '`<div class="result-type">${this.escapeHtml(({database: "数据库", table: "表", view: "视图", '
         'query: "查询", menu: "菜单", debug: "调试"})[match.type] || match.type)}</div>`'),
        ('aria-label="Jump results"', 'aria-label="跳转结果"'),
        ('? "No results found"\n          : "Start typing to search...";', '? "没有找到结果"\n          : "输入文字开始搜索……";'),
        ('id="${this.recentHeadingId}">Recent</div>', 'id="${this.recentHeadingId}">最近访问</div>'),
        ('data-clear-recent-items>Clear recent</button>', 'data-clear-recent-items>清除最近访问</button>'),
    ],
    "edit-tools.js": [
        # shared
        ('"Request failed with HTTP " + response.status', '"请求失败（HTTP " + response.status + "）"'),
        ('var message = "Inserted row " + rowId;', 'var message = "已新增一行：" + rowId;'),
        ('message += " (" + rowLabel + ")";', 'message += "（" + rowLabel + "）";'),
        ('return message + ".";', 'return message + "。";'),
        # foreign keys in the row form
        ('return "View row";', 'return "查看这一行";'),
        ('part !== "Current value: NULL"', 'part !== "当前值：空值（NULL）"'),
        ('metaParts.push("Current value: NULL");', 'metaParts.push("当前值：空值（NULL）");'),
        ('control.placeholder = "NULL";', 'control.placeholder = "空值";'),
        ('"Open referenced row " + pkText + " " + linkText + " in a new tab"',
         '"在新标签页中打开引用的记录 " + pkText + " " + linkText'),
        # delete
        ('"Deleting..." : "Delete row"', '"正在删除……" : "删除"'),
        ('id="row-delete-title">Delete row</span>', 'id="row-delete-title">删除此行</span>'),
        ('id="row-delete-message">Delete row <span class="row-delete-id"></span>?</p>',
         'id="row-delete-message">确定删除 <span class="row-delete-id"></span> 这一行吗？删除后无法恢复。</p>'),
        ('row-delete-cancel">Cancel</button>', 'row-delete-cancel">取消</button>'),
        ('row-delete-confirm">Delete row</button>', 'row-delete-confirm">删除</button>'),
        ('? "Deleted row " + state.currentPkPath + "."\n          : "Deleted row.";',
         '? "已删除一行：" + state.currentPkPath + "。"\n          : "已删除一行。";'),
        ('error.message || "Delete failed"', 'error.message || "删除失败"'),
        ('    "Delete row",\n    state.currentPkPath || "this row",', '    "删除此行",\n    state.currentPkPath || "这一行",'),
        ('state.rowId.textContent = state.currentPkPath || "this row";', 'state.rowId.textContent = state.currentPkPath || "这一行";'),
        # the row form
        ('label.textContent = column;\n\n  var controlWrap',
         'label.textContent = ' + _label_of("column") + ';\n  label.title = column;\n\n  var controlWrap'),
        ('metaParts.push("Primary key");', 'metaParts.push("主键");'),
        ('metaParts.push("Required");', 'metaParts.push("必填");'),
        ('metaParts.push("SQLite default: " + defaultExpression);', 'metaParts.push("默认值：" + defaultExpression);'),
        ('metaParts.push("Custom type: " + columnType.type);', 'metaParts.push("自定义类型：" + columnType.type);'),
        ('document.createTextNode("default ")', 'document.createTextNode("默认值 ")'),
        ('setValueButton.textContent = "Set value";', 'setValueButton.textContent = "填写值";'),
        ('"Set value for " + column', '"填写" + ' + _label_of("column")),
        ('useSqliteDefaultButton.textContent = "Use default";', 'useSqliteDefaultButton.textContent = "使用默认值";'),
        ('"Use SQLite default for " + column', '"使用默认值：" + ' + _label_of("column")),
        ('      ? "Back"\n      : state.bulkInsertInserted\n        ? "Close and view table"\n        : "Cancel";',
         '      ? "返回"\n      : state.bulkInsertInserted\n        ? "关闭并查看表"\n        : "取消";'),
        ('      ? "Inserted"\n      : state.bulkInsertPreviewReady\n        ? bulkInsertSaveLabel(state)\n'
         '        : "Preview rows"\n    : state.mode === "insert"\n      ? "Insert row"\n      : "Save";',
         '      ? "已新增"\n      : state.bulkInsertPreviewReady\n        ? bulkInsertSaveLabel(state)\n'
         '        : "预览"\n    : state.mode === "insert"\n      ? "新增"\n      : "保存";'),
        ('        ? "Updating..."\n        : "Inserting..."\n      : "Saving..."',
         '        ? "正在更新……"\n        : "正在新增……"\n      : "正在保存……"'),
        ('throw new Error(name + " must be a number");', 'throw new Error(' + _label_of("name") + ' + "必须是数字");'),
        ('throw new Error(name + " must be true or false");',
         'throw new Error(' + _label_of("name") + ' + "必须是 是/否（1 或 0）");'),
        ('      ? "Discard this new row?"\n      : "Discard unsaved changes to this row?";',
         '      ? "放弃这条新记录吗？"\n      : "放弃对这一行尚未保存的修改吗？";'),
        ('    ? "Insert multiple rows"\n    : "Insert row";', '    ? "批量新增"\n    : "新增一行";'),
        ('insertData.tableName ? title + " into " + insertData.tableName : title,',
         'insertData.tableName ? title + "：" + (window._shequTableTitle || insertData.tableName) : title,'),
        ('"Rows with existing primary keys will be updated; new primary keys will be inserted."',
         '"主键已存在的行将被更新，其余的行将新增。"'),
        ('helpText = "Rows with existing primary keys will be skipped.";', 'helpText = "主键已存在的行将跳过。";'),
        ('helpText = "Rows with existing primary keys will stop the import.";', 'helpText = "遇到主键已存在的行时停止导入。";'),
        ('    return "Preview rows";\n  }\n  if (bulkInsertConflictMode(state) === "upsert") {\n'
         '    return "Update or insert rows";\n  }\n  return "Insert these rows";',
         '    return "预览";\n  }\n  if (bulkInsertConflictMode(state) === "upsert") {\n'
         '    return "更新或新增这些行";\n  }\n  return "新增这些行";'),
        ('"Could not read that text file."', '"无法读取这个文本文件。"'),
        ('wideLabel.textContent = "Copy spreadsheet template";', 'wideLabel.textContent = "复制表格模板";'),
        ('narrowLabel.textContent = "Copy template";', 'narrowLabel.textContent = "复制模板";'),
        ('state.copyTemplateButton.textContent = "Copied";', 'state.copyTemplateButton.textContent = "已复制";'),
        ('throw new Error("Unclosed quoted value.");', 'throw new Error("引号没有闭合。");'),
        ('throw new Error("Could not detect CSV or TSV columns.");', 'throw new Error("无法识别 CSV 或 TSV 的列。");'),
        ('"Paste rows before previewing."', '"请先粘贴要新增的行，再预览。"'),
        ('"No data rows found to preview."', '"没有可预览的数据行。"'),
        ('message.indexOf("Invalid JSON:") === 0', 'message.indexOf("JSON 格式错误：") === 0'),
        ('"Invalid JSON: "', '"JSON 格式错误："'),
        ('"Could not preview rows."', '"无法预览这些行。"'),
        ('throw new Error("JSON row " + (index + 1) + " must be an object.");',
         'throw new Error("JSON 第 " + (index + 1) + " 行必须是对象。");'),
        ('"JSON row " + (index + 1) + " has unknown column " + key + ".",',
         '"JSON 第 " + (index + 1) + " 行有不认识的列：" + key + "。",'),
        ('throw new Error("No rows found to preview.");', 'throw new Error("没有可预览的行。");'),
        ('throw new Error("Unknown column " + name + " in header row.");', 'throw new Error("表头中有不认识的列：" + name + "。");'),
        ('throw new Error("Duplicate column " + name + " in header row.");', 'throw new Error("表头中的列重复：" + name + "。");'),
        ('        "Row " +\n          (rowIndex + 1) +\n          " has " +\n          row.length +\n'
         '          " values, but only " +\n          headers.length +\n          " columns were provided.",',
         '        "第 " +\n          (rowIndex + 1) +\n          " 行有 " +\n          row.length +\n'
         '          " 个值，但只有 " +\n          headers.length +\n          " 列。",'),
        ('text: "auto",', 'text: "自动",'),
        ('"Previewing " + rows.length + " row" + (rows.length === 1 ? "." : "s.");', '"预览 " + rows.length + " 行。";'),
        ('th.textContent = column.name;\n    headerRow.appendChild(th);',
         'th.textContent = ' + _label_of("column.name") + ';\n    th.title = column.name;\n    headerRow.appendChild(th);'),
        ('      ? total + " row" + (total === 1 ? " " : "s ") + words.complete + "."\n'
         '      : words.active + " " + inserted + " of " + total + " rows...";',
         '      ? words.complete + " " + total + " 行。"\n'
         '      : words.active + " " + inserted + " / " + total + " 行……";'),
        ('          ? total + " row" + (total === 1 ? " " : "s ") + words.complete + "."\n'
         '          : words.active + " " + displayValue + " of " + total + " rows...";',
         '          ? words.complete + " " + total + " 行。"\n'
         '          : words.active + " " + displayValue + " / " + total + " 行……";'),
        ('active: "Upserting",\n      complete: "upserted",', 'active: "正在更新或新增",\n      complete: "已处理",'),
        ('active: "Processing",\n      complete: "processed",', 'active: "正在处理",\n      complete: "已处理",'),
        ('active: "Inserting",\n    complete: "inserted",', 'active: "正在新增",\n    complete: "已新增",'),
        ('        "Row " +\n        (index + 1) +\n        " is missing primary key " +\n        missing.join(", ") +\n'
         '        ". Upsert requires primary key values for every row."',
         '        "第 " +\n        (index + 1) +\n        " 行缺少主键：" +\n        missing.join("、") +\n'
         '        "。更新或新增时每一行都必须有主键。"'),
        ('? "Could not find the row upsert URL."\n        : "Could not find the row insert URL.",',
         '? "找不到更新或新增的地址。"\n        : "找不到新增的地址。",'),
        ('error.message || "Could not insert rows."', 'error.message || "未能新增这些行。"'),
        ('"Could not refresh row: HTTP " + response.status', '"无法刷新这一行（HTTP " + response.status + "）"'),
        ('? "Could not find the row insert URL"\n          : "Could not find the row update URL",',
         '? "找不到新增的地址"\n          : "找不到修改的地址",'),
        ('"Inserted row. Refresh the page to see it."', '"已新增一行。刷新页面后可以看到。"'),
        ('"Inserted row, but could not refresh the table row. Refresh the page to see it."',
         '"已新增一行，但未能刷新表格。刷新页面后可以看到。"'),
        ('"Inserted row. It does not match the current filters."', '"已新增一行。它不符合当前的筛选条件，所以没有显示。"'),
        ('? "Updated row " + state.currentPkPath + "."\n          : "Updated row.",',
         '? "已保存对 " + state.currentPkPath + " 的修改。"\n          : "已保存修改。",'),
        ('? "Updated row " +\n              state.currentPkPath +\n              ". It no longer matches the current filters."\n'
         '          : "Updated row. It no longer matches the current filters.",',
         '? "已保存对 " +\n              state.currentPkPath +\n              " 的修改。它已不符合当前的筛选条件。"\n'
         '          : "已保存修改。它已不符合当前的筛选条件。",'),
        ('error.message || "Could not save row"', 'error.message || "未能保存"'),
        ('emptyMessage.textContent = "This row will use the table defaults.";',
         'emptyMessage.textContent = "这一行将全部使用默认值。";'),
        ('id="row-edit-title">Edit row</span>', 'id="row-edit-title">编辑此行</span>'),
        ('aria-live="polite">Loading row...</p>', 'aria-live="polite">正在加载……</p>'),
        ('<label for="row-edit-bulk-textarea">Paste TSV, CSV, or JSON</label>. You can also '
         '<button type="button" class="button-as-link row-edit-bulk-open-file">open a file</button> or drop it onto this textarea',
         '<label for="row-edit-bulk-textarea">粘贴 TSV、CSV 或 JSON</label>，也可以'
         '<button type="button" class="button-as-link row-edit-bulk-open-file">打开文件</button>或把文件拖到下面的输入框中'),
        ('for="row-edit-bulk-conflict-mode">If the row exists already</label>',
         'for="row-edit-bulk-conflict-mode">如果这一行已经存在</label>'),
        ('<option value="insert">Stop with an error</option>', '<option value="insert">报错并停止</option>'),
        ('<option value="ignore">Skip existing rows</option>', '<option value="ignore">跳过已有的行</option>'),
        ('<option value="upsert">Update existing and insert new</option>', '<option value="upsert">更新已有的行，新增其余的行</option>'),
        ('row-edit-copy-template-label-wide">Copy spreadsheet template</span>', 'row-edit-copy-template-label-wide">复制表格模板</span>'),
        ('row-edit-copy-template-label-narrow">Copy template</span>', 'row-edit-copy-template-label-narrow">复制模板</span>'),
        ('row-edit-bulk-template-note-wide">You can paste the template into Google Sheets or Excel.</span>',
         'row-edit-bulk-template-note-wide">可以把模板粘贴到 Excel 或 WPS 表格中填写。</span>'),
        ('row-edit-bulk-template-note-narrow">Paste into Google Sheets or Excel</span>',
         'row-edit-bulk-template-note-narrow">粘贴到 Excel 中填写</span>'),
        ('row-edit-bulk-insert" hidden>Insert multiple rows</a>', 'row-edit-bulk-insert" hidden>批量新增</a>'),
        ('row-edit-single-insert" hidden>Insert single row</a>', 'row-edit-single-insert" hidden>新增一行</a>'),
        ('row-edit-cancel">Cancel</button>', 'row-edit-cancel">取消</button>'),
        ('row-edit-save" disabled>Save</button>', 'row-edit-save" disabled>保存</button>'),
        ('"Could not copy the spreadsheet template."', '"未能复制表格模板。"'),
        ('    "Edit row",\n    state.currentPkPath || "this row",', '    "编辑此行",\n    state.currentPkPath || "这一行",'),
        ('error.message || "Could not load row"', 'error.message || "未能加载这一行"'),
    ],
}


def rewrite_js(name: str, source: str) -> tuple[str, list[str]]:
    """Apply JS_RULES[name]; returns the new source and the rules that did not match."""
    missing = []
    for old, new in JS_RULES.get(name, ()):
        if old in source:
            source = source.replace(old, new)
        else:
            missing.append(old)
    return source, missing


def dictionary_size() -> int:
    return (sum(len(r) for r in TEMPLATE_RULES.values()) + sum(len(r) for r in JS_RULES.values())
            + len(PHRASES) + len(PATTERNS) + len(LOOKUPS) + len(FACET_TYPES) + len(QUERY_COLUMNS))


def missing_rules() -> dict[str, list[str]]:
    """Rules that do not match the installed Datasette: {file: [old, …]}."""
    from pathlib import Path

    import datasette

    root = Path(datasette.__file__).parent
    out = {}
    for folder, rules, rewrite in (("templates", TEMPLATE_RULES, rewrite_template),
                                   ("static", JS_RULES, rewrite_js)):
        for name in rules:
            path = root / folder / name
            source = path.read_text(encoding="utf-8") if path.exists() else ""
            missing = rewrite(name, source)[1]
            if missing:
                out[name] = missing
    return out
