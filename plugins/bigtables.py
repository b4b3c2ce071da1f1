"""Big tables stay fast (issue 6): on a big table a page counts, sorts and groups only
through indexes. The rules are in ingest/bigtables.py; this is the wiring.

* Counts (every table): Datasette 1.0a41 already stops counting at 10,000 rows and shows
  "超过 10,000 行" with a "统计全部" button for the exact number on demand; its capped
  count reads every matching row (`select *`), this one counts `select 1`, which SQLite
  answers from a covering index (35 ms → 0.4 ms for 10,001 rows of one community at 5M).
* A table over `plugins.shequ.big_table_rows` rows (checked at most once a minute per
  table) gets `sortable_columns` = its indexed NOT NULL columns (unless datasette.yaml
  names them), refuses other sorts and non-indexed facets with a Chinese 400 before any
  query runs, gets no suggested facets, and on `_next` pages of a sorted view an extra
  `c <= :v` / `c >= :v` bound that lets SQLite start the index range at the page boundary
  (Datasette's own keyset condition alone makes a deep `_sort_desc` page scan the index).
  Virtual tables (the FTS indexes) are left as Datasette has them; their shadow tables
  are ordinary tables and follow the rule.
* Sorted pages (every table): the first page of a sort is ordered by the primary key
  within ties, as Datasette's `_next` pages already are - without it, paging a
  `_sort_desc` over an index repeated and skipped rows (a Datasette 1.0a41 bug).

Hooks: `filters_from_request` (runs first on every table page and for the count button)
plus three Datasette internals wrapped in place, as there is no hook for the count, the
facet suggestions or the ORDER BY; `installed()` says whether the wrapping took.
"""
from __future__ import annotations

import json
import logging
import time
import weakref

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.filters import FilterArguments
from datasette.utils import escape_sqlite
from datasette.utils.asgi import BadRequest

from ingest import bigtables, zh

log = logging.getLogger(__name__)

RECHECK_SECONDS = 60  # how long a table's big/small verdict is trusted
_STATE = weakref.WeakKeyDictionary()  # Datasette → {"plans": {...}, "injected": set()}
_MARK = "_shequ_bigtables"


def _state(datasette) -> dict:
    state = _STATE.get(datasette)
    if state is None:
        state = _STATE[datasette] = {"plans": {}, "injected": set()}
    return state


def threshold(datasette) -> int:
    return int((datasette.plugin_config("shequ") or {}).get("big_table_rows")
               or bigtables.DEFAULT_THRESHOLD)


def cached_plan(datasette, database, table):
    """The plan last computed for this table (None: small, a view, or not yet known)."""
    entry = _state(datasette)["plans"].get((database, table))
    return entry[2] if entry else None


async def table_plan(datasette, database, table):
    """bigtables.Plan for a table over the threshold, else None; recomputed when stale."""
    limit = threshold(datasette)
    plans = _state(datasette)["plans"]
    entry = plans.get((database, table))
    now = time.monotonic()
    if entry and entry[0] > now and entry[1] == limit:
        return entry[2]

    def compute(conn):
        kind = conn.execute("select type, sql from sqlite_master where name = ?", [table]).fetchone()
        if not kind or kind[0] != "table" or (kind[1] or "").upper().startswith("CREATE VIRTUAL") \
                or not bigtables.row_count_over(conn, table, limit):
            return None
        return bigtables.plan(conn, table)

    plan = await datasette.get_database(database).execute_fn(compute)
    plans[(database, table)] = (now + RECHECK_SECONDS, limit, plan)
    _offer_sorts(datasette, database, table, plan)
    return plan


def _offer_sorts(datasette, database, table, plan):
    """Keep Datasette's `sortable_columns` for this table in step with its plan: column
    headers then link only the sorts an index serves. An explicit setting in
    datasette.yaml is left alone. The table's entry is replaced, never changed in place:
    datasette.yaml shares one entry between tables through YAML aliases."""
    tables = datasette.config.setdefault("databases", {}).setdefault(database, {}) \
        .setdefault("tables", {})
    injected = _state(datasette)["injected"]
    key = (database, table)
    entry = tables.get(table) or {}
    if plan is None:
        if key in injected:
            tables[table] = {k: v for k, v in entry.items() if k != "sortable_columns"}
            injected.discard(key)
        return
    if "sortable_columns" in entry and key not in injected:
        return
    tables[table] = {**entry, "sortable_columns": list(plan.sortable)}
    injected.add(key)


def _facet_columns(request):
    for key in request.args:
        if key != "_facet" and not (key.startswith("_facet_") and key != "_facet_size"):
            continue
        for value in request.args.getlist(key):
            if value.startswith("{"):
                try:
                    config = json.loads(value)
                    value = config.get("column") or config.get("simple")
                except (ValueError, AttributeError):
                    value = None
            yield value


@hookimpl
def filters_from_request(request, database, table, datasette):
    async def inner():
        plan = await table_plan(datasette, database, table)
        if plan is None:
            return None
        limit = threshold(datasette)
        config = await datasette.table_config(database, table)
        sortable = config.get("sortable_columns", plan.sortable)

        def label(column):
            return zh.column_label(database, table, column)

        for column in (request.args.get("_sort"), request.args.get("_sort_desc")):
            if column and column not in sortable:
                raise BadRequest(bigtables.refusal("sort", limit, sortable, label))
        if any(c not in plan.facetable for c in _facet_columns(request)):
            raise BadRequest(bigtables.refusal("facet", limit, plan.facetable, label))

        # The keyset bound is for reading a page; the count button (a POST carrying the
        # page's query string) counts the whole filtered table.
        if request.method != "GET" or not request.args.get("_next"):
            return None
        sort, sort_desc = request.args.get("_sort"), request.args.get("_sort_desc")
        if not sort and not sort_desc:
            sort, sort_desc = config.get("sort"), config.get("sort_desc")
        bound = bigtables.keyset_bound(sort, sort_desc, request.args.get("_next"),
                                       set(plan.sortable) & set(sortable))
        if bound is None:
            return None
        clause, params = bound
        setattr(request, _MARK, clause)  # the count leaves it out again
        return FilterArguments([clause], params)

    return inner


# ── Datasette internals, wrapped in place (there is no hook for these) ───────────────

def _wrap_datasette():
    from datasette.views import table as table_view
    from datasette.views import table_extras

    count_extra = table_extras.CountExtra
    suggest_extra = table_extras.SuggestedFacetsExtra
    if getattr(count_extra.resolve, _MARK, False):
        return
    datasette_count = count_extra.resolve
    datasette_suggest = suggest_extra.resolve
    datasette_sort_order = table_view._sort_order

    async def count(self, context):
        db = context.db
        if not db.is_mutable or context.nocount or not context.count_sql:
            return await datasette_count(self, context)
        from_sql = context.from_sql
        clause = getattr(context.request, _MARK, None)
        if clause:
            from_sql = bigtables.without_clause(from_sql, clause)
        try:
            rows = await db.execute(bigtables.count_sql(from_sql, db.count_limit),
                                    context.from_sql_params)
        except QueryInterrupted:  # as Datasette: a count that cannot finish is left out
            return None
        return rows.rows[0][0]

    async def suggested_facets(self, context, facet_instances):
        if cached_plan(context.datasette, context.database_name, context.table_name):
            return []
        return await datasette_suggest(self, context, facet_instances)

    async def sort_order(table_metadata, sortable_columns, request, order_by):
        """Datasette orders the first page of `_sort_desc=c` by `c desc` alone and every
        `_next` page by `c desc, pk`, with a `_next` condition that assumes the latter.
        Read backwards from an index on c, ties come highest rowid first, so page two
        repeats rows of page one and skips others. The first page gets the pk too."""
        sort, sort_desc, sorted_by = await datasette_sort_order(
            table_metadata, sortable_columns, request, order_by)
        column = sort or sort_desc
        if column and order_by and not request.args.get("_next") \
                and escape_sqlite(column) != order_by:
            sorted_by = f"{sorted_by}, {order_by}"
        return sort, sort_desc, sorted_by

    for function in (count, suggested_facets, sort_order):
        setattr(function, _MARK, True)
    count_extra.resolve = count
    suggest_extra.resolve = suggested_facets
    table_view._sort_order = sort_order


def installed() -> bool:
    from datasette.views import table as table_view
    from datasette.views import table_extras

    return all(getattr(f, _MARK, False) for f in (
        table_extras.CountExtra.resolve, table_extras.SuggestedFacetsExtra.resolve,
        table_view._sort_order))


try:
    _wrap_datasette()
except (ImportError, AttributeError):  # another Datasette: its own behaviour stays
    log.warning("shequ bigtables: Datasette internals not found; count, suggestions and"
                " sort order not wrapped")
