"""A summary should cost no more than a trivial page (issue 6): memoize Datasette's list
of the tables an actor may see, for a few seconds.

Datasette 1.0a41 builds that list (`allowed_resources("view-table", include_is_private=
True)`) on every stored-query request: two permission checks per table, FTS shadow table
and aggregate table of community.db (about 11 ms of a 27 ms summary request). The answer
depends only on the actor, the permission config (datasette.yaml, fixed while serving)
and the list of tables, so it is kept for TTL_SECONDS per (actor, arguments); a new
table appears at most that much later, a changed role or a disabled account is a
different actor (auth builds the actor from the session on every request) and is never
served from another actor's entry.
"""
from __future__ import annotations

import json
import time

from datasette import hookimpl

TTL_SECONDS = 5.0
MAX_ENTRIES = 512
_MARK = "_shequ_permcache"


def memoize(datasette, ttl=TTL_SECONDS, clock=time.monotonic):
    """Wrap `datasette.allowed_resources` (on this instance only) with the cache."""
    if getattr(datasette.allowed_resources, _MARK, False):
        return
    original = datasette.allowed_resources
    cache: dict = {}

    async def allowed_resources(action, actor=None, **kwargs):
        key = (action, json.dumps(actor, sort_keys=True, default=str),
               json.dumps(kwargs, sort_keys=True, default=str))
        now = clock()
        hit = cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
        page = await original(action, actor, **kwargs)
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = (now + ttl, page)
        return page

    setattr(allowed_resources, _MARK, True)
    datasette.allowed_resources = allowed_resources


@hookimpl
def startup(datasette):
    memoize(datasette)
