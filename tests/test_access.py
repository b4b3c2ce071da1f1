"""Who sees what: the anonymous-access matrix for the staff database, checked on two
layers (Datasette's permission rules, and the URL guard in front of them)."""
from __future__ import annotations

import pytest
from datasette.resources import DatabaseResource, QueryResource, TableResource

from ingest.app import make_datasette

# One route of every kind that can expose the staff database.
COMMUNITY_ROUTES = [
    "/community",
    "/community.json",
    "/community.db",
    "/community/persons",
    "/community/persons.json",
    "/community/persons.json?_shape=array",
    "/community/persons.csv",
    "/community/persons.csv?_stream=on",
    "/community/persons?_facet=gender",
    "/community/persons?name__contains=陈",
    "/community/persons/1",
    "/community/persons/1.json",
    "/community/persons/-/autocomplete?q=陈",
    "/community/persons/-/schema.json",
    "/community/-/schema",
    "/community/-/schema.json",
    "/community/-/queries.json",
    "/community/-/query?sql=select+*+from+persons",
    "/community/-/query.json?sql=select+*+from+persons",
    "/community/-/query.csv?sql=select+*+from+persons",
    "/community/relief_by_category",
    "/community/relief_by_category.json?year=2012",
    "/community/relief_by_category.csv?year=2012",
    "/community/coverage.json?year=2012",
    "/community/relief_by_category/-/definition",
]
ADMIN_ONLY_ROUTES = ["/-/config.json", "/-/allow-debug", "/-/versions.json", "/-/plugins.json",
                     "/-/permissions", "/-/rules.json", "/-/threads.json"]
# Strings from the sample registry that must never reach an anonymous visitor.
CANARIES = ["陈宸", "500199", "跃华小区", "\\u9648\\u5bb8"]


def _assert_no_data(response):
    for canary in CANARIES:
        assert canary not in response.text, (response.url, canary)


@pytest.mark.parametrize("path", COMMUNITY_ROUTES)
async def test_anonymous_gets_nothing_of_community(ds, path):
    response = await ds.client.get(path)
    _assert_no_data(response)
    is_page = "." not in path.split("?")[0].rsplit("/", 1)[-1]
    if is_page:
        assert response.status_code == 302
        assert response.headers["location"].startswith("/-/login?next=/community")
    else:
        assert response.status_code == 403
        assert response.json() == {"ok": False, "status": 403, "error": "请先登录"}


@pytest.mark.parametrize("path", ["/community/persons/-/insert", "/community/-/query",
                                  "/community/persons/1/-/delete"])
async def test_anonymous_cannot_post_to_community(ds, path):
    response = await ds.client.post(path, json={"row": {"name": "x"}})
    assert response.status_code == 403


@pytest.mark.parametrize("role", ["admin", "staff", "viewer"])
@pytest.mark.parametrize("path,expected", [
    ("/community", 200), ("/community/persons", 200), ("/community/persons.json", 200),
    ("/community/persons/1", 200), ("/community/relief_by_category.json?year=2012", 200),
    ("/community/coverage?year=2012", 200),
])
async def test_every_role_can_read(ds, cookies, role, path, expected):
    response = await ds.client.get(path, cookies=cookies[role])
    assert response.status_code == expected


@pytest.mark.parametrize("role,path,expected", [
    ("admin", "/community/-/query.json?sql=select+count(*)+as+n+from+persons", 200),
    ("staff", "/community/-/query.json?sql=select+count(*)+as+n+from+persons", 403),
    ("viewer", "/community/-/query.json?sql=select+count(*)+as+n+from+persons", 403),
    # Datasette never serves a mutable database file, whoever asks: staff get copies
    # through the CLI, the public gets public.db.
    ("admin", "/community.db", 403),
    ("staff", "/community.db", 403),
    ("viewer", "/community.db", 403),
    ("admin", "/-/config.json", 200),
    ("staff", "/-/config.json", 403),
    ("viewer", "/-/versions.json", 403),
])
async def test_sql_download_and_debug_by_role(ds, cookies, role, path, expected):
    response = await ds.client.get(path, cookies=cookies[role])
    assert response.status_code == expected


@pytest.mark.parametrize("path", ADMIN_ONLY_ROUTES)
async def test_anonymous_gets_no_debug_pages(ds, path):
    response = await ds.client.get(path)
    assert response.status_code in (302, 403)
    assert "community" not in response.text


async def test_home_page_hides_community_from_anonymous(ds, cookies):
    anonymous = await ds.client.get("/")
    assert anonymous.status_code == 200
    assert "/community" not in anonymous.text
    staff = await ds.client.get("/", cookies=cookies["staff"])
    assert 'href="/community"' in staff.text


@pytest.mark.parametrize("action,resource", [
    ("view-database", DatabaseResource("community")),
    ("view-table", TableResource("community", "persons")),
    ("view-table", TableResource("community", "disbursements")),
    ("view-query", QueryResource("community", "relief_by_category")),
    ("execute-sql", DatabaseResource("community")),
    ("view-database-download", DatabaseResource("community")),
])
async def test_permission_rules_alone_refuse_anonymous(ds, action, resource):
    """Without the URL guard, Datasette's own rules from datasette.yaml still say no."""
    assert await ds.allowed(action=action, resource=resource, actor=None) is False
    assert await ds.allowed(action=action, resource=resource,
                            actor={"id": "someone", "role": "admin"}) is True


async def test_forged_cookie_is_anonymous(ds):
    response = await ds.client.get("/community/persons.json",
                                   cookies={"shequ_session": "forged-token"})
    assert response.status_code == 403


async def test_ds_actor_cookie_without_role_gets_nothing(ds):
    """A validly signed Datasette actor cookie carries no role, so it opens nothing."""
    signed = ds.sign({"a": {"id": "intruder"}}, "actor")
    response = await ds.client.get("/community/persons.json", cookies={"ds_actor": signed})
    assert response.status_code == 403


async def test_guard_is_configured_for_community(built_dir):
    ds = make_datasette(built_dir)
    assert ds.plugin_config("shequ")["private_databases"] == ["community"]
