"""plugins/permcache.py: the memoized table list is the one Datasette computes, per actor,
and expires."""
from __future__ import annotations

import importlib.util

from ingest import ROOT
from ingest.app import make_datasette

spec = importlib.util.spec_from_file_location("permcache", ROOT / "plugins" / "permcache.py")
permcache = importlib.util.module_from_spec(spec)
spec.loader.exec_module(permcache)

ACTORS = [None, {"id": "viewer1", "role": "viewer"}, {"id": "staff1", "role": "staff"},
          {"id": "admin1", "role": "admin"}]


def tables(page):
    return sorted((r.parent, r.child, getattr(r, "private", None)) for r in page.resources)


async def test_memoized_table_lists_equal_datasettes_own_per_actor(built_dir):
    fresh, cached = make_datasette(built_dir), make_datasette(built_dir)
    await fresh.invoke_startup()
    await cached.invoke_startup()
    assert getattr(cached.allowed_resources, "_shequ_permcache", False)
    fresh.allowed_resources = type(fresh).allowed_resources.__get__(fresh)  # unwrapped
    for _ in range(2):  # the second round is served from the cache
        for actor in ACTORS:
            kwargs = {"parent": "community", "include_is_private": True, "limit": 1000}
            assert tables(await cached.allowed_resources("view-table", actor, **kwargs)) == \
                tables(await fresh.allowed_resources("view-table", actor, **kwargs))
    anonymous = await cached.allowed_resources("view-table", None, parent="community", limit=1000)
    staff = await cached.allowed_resources("view-table", ACTORS[2], parent="community", limit=1000)
    assert anonymous.resources == [] and len(staff.resources) > 20


async def test_entries_expire():
    calls = []

    class Fake:
        async def allowed_resources(self, action, actor=None, **kwargs):
            calls.append(actor)
            return len(calls)

    now = [0.0]
    fake = Fake()
    permcache.memoize(fake, ttl=5, clock=lambda: now[0])
    assert await fake.allowed_resources("view-table", {"id": "a"}) == 1
    assert await fake.allowed_resources("view-table", {"id": "a"}) == 1
    assert await fake.allowed_resources("view-table", {"id": "b"}) == 2
    now[0] = 5.1
    assert await fake.allowed_resources("view-table", {"id": "a"}) == 3
