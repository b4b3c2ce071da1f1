"""What a table page may ask of a big table (issue 6: "fast at district scale").

A table is *big* when it has more than `threshold` rows (datasette.yaml:
`plugins.shequ.big_table_rows`, default 100,000 - below that even an unindexed sort or
GROUP BY stays well inside the 100 ms page budget). For a big table only what an index
serves is offered:

* sort by the primary key or by a NOT NULL column that has an index of its own - the
  index then gives the order (column, then rowid), so the first page and every `_next`
  page read about `_size` rows (plus, descending, the run of equal values at the page
  boundary, which Datasette orders by ascending key), never the whole table;
* facet by a column that leads an index (the GROUP BY reads that index only);
* no suggested facets (Datasette tries a GROUP BY per column on every view).

Pure functions over a sqlite3 connection and strings; plugins/bigtables.py applies them.
"""
from __future__ import annotations

from dataclasses import dataclass

from datasette.utils import escape_sqlite, urlsafe_components

DEFAULT_THRESHOLD = 100_000
KEYSET_PARAM = "shequ_keyset"


@dataclass(frozen=True)
class Plan:
    """A big table's allowances: columns in table order."""
    sortable: tuple[str, ...]
    facetable: tuple[str, ...]


def row_count_over(conn, table: str, threshold: int) -> bool:
    """True when `table` has more than `threshold` rows; reads at most threshold + 1
    entries of its smallest index."""
    sql = f"select count(*) from (select 1 from {escape_sqlite(table)} limit {int(threshold) + 1})"
    return conn.execute(sql).fetchone()[0] > threshold


def plan(conn, table: str) -> Plan:
    """The sortable and facetable columns of `table`, from its schema and indexes."""
    q = escape_sqlite(table)
    columns = [(r[1], r[3], r[5]) for r in conn.execute(f"PRAGMA table_xinfo({q})")]
    names = [name for name, _, _ in columns]
    pks = [name for name, _, pk in columns if pk]
    not_null = {name for name, notnull, pk in columns if notnull or (pk and len(pks) == 1)}
    own_index, leading = set(), set()
    for _, index, unique, _origin, partial in conn.execute(f"PRAGMA index_list({q})"):
        if partial:
            continue
        keys = [r[2] for r in conn.execute(f"PRAGMA index_info({escape_sqlite(index)})")]
        if not keys or keys[0] is None:  # an index on an expression
            continue
        if len(keys) == 1:
            own_index.add(keys[0])
        if not (unique and len(keys) == 1):  # one row per value: nothing to count
            leading.add(keys[0])
    # A single-column primary key is the rowid (or has its own unique index); a table
    # without one is ordered by rowid, which Datasette offers as a column.
    sortable = set(pks) if len(pks) == 1 else set() if pks else {"rowid"}
    sortable |= own_index & not_null
    facetable = leading - (set(pks) if len(pks) == 1 else set())
    return Plan(sortable=tuple(n for n in ["rowid", *names] if n in sortable),
                facetable=tuple(n for n in names if n in facetable))


def count_sql(from_sql: str, limit: int) -> str:
    """Rows matching the page's filters, counted up to limit + 1: `select 1` lets SQLite
    count from a covering index instead of reading every matching row."""
    return f"select count(*) from (select 1 {from_sql} limit {int(limit) + 1})"


def keyset_bound(sort: str | None, sort_desc: str | None, next_token: str | None,
                 sortable) -> tuple[str, dict] | None:
    """A WHERE clause implied by Datasette's own `_next` condition on a sorted page, that
    lets SQLite start the index range at the page boundary.

    Datasette writes the boundary of `_sort_desc=c` as `c < :v or c is null or (c = :v
    and pk > :k)`; the `c is null` disjunct stops SQLite 3.40 from using the index as a
    range, so a deep page scans the index from the top. For a NOT NULL column (the only
    kind `plan` lets a big table sort by) `c <= :v` holds for every row of that condition,
    and likewise `c >= :v` for `_sort=c`. None when there is nothing to add."""
    column = sort or sort_desc
    if not column or not next_token or column not in sortable:
        return None
    components = urlsafe_components(next_token)
    if len(components) < 2 or next_token.split(",")[0] == "$null":
        return None
    op = ">=" if sort else "<="
    return f"{escape_sqlite(column)} {op} :{KEYSET_PARAM}", {KEYSET_PARAM: components[0]}


def without_clause(from_sql: str, clause: str) -> str:
    """`from_sql` ("from t where a and b ") without one of its AND-ed clauses."""
    for old, new in ((f" and {clause}", ""), (f"{clause} and ", ""), (f"where {clause} ", "")):
        if old in from_sql:
            return from_sql.replace(old, new, 1)
    return from_sql


def refusal(kind: str, threshold: int, allowed, label) -> str:
    """Why a big table refuses a sort or facet, with the columns it does allow."""
    what, instead = {
        "sort": ("排序", "需要按其他列排序时，可以先筛选、导出，再在 Excel 中排序。"),
        "facet": ("分面", "需要按其他列统计时，可以先筛选、导出，再在 Excel 中用数据透视表统计。"),
    }[kind]
    columns = "、".join(label(c) for c in allowed) or "（无）"
    return f"这张表超过 {threshold:,} 行，为保证速度只能按有索引的列{what}：{columns}。{instead}"
