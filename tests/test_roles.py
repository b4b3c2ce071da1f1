"""The role × action matrix on the staff database (anonymous, viewer, staff, admin)."""
from __future__ import annotations

import pytest

from ingest.app import make_datasette

from .conftest import login

ROLES = ("anonymous", "viewer", "staff", "admin")
VISIT = {"visited_on": "2012-06-01", "community_id": 1, "person_id": 1, "purpose": "矩阵测试"}
# action → (method, path, json body, {role: expected status})
MATRIX = {
    "read": ("GET", "/community/persons.json", None,
             {"anonymous": 403, "viewer": 200, "staff": 200, "admin": 200}),
    "sql": ("GET", "/community/-/query.json?sql=select+count(*)+from+persons", None,
            {"anonymous": 403, "viewer": 403, "staff": 403, "admin": 200}),
    "insert": ("POST", "/community/visits/-/insert", {"row": VISIT},
               {"anonymous": 403, "viewer": 403, "staff": 201, "admin": 201}),
    "update": ("POST", "/community/persons/1/-/update", {"update": {"note": "矩阵测试"}},
               {"anonymous": 403, "viewer": 403, "staff": 200, "admin": 200}),
    "delete": ("POST", "/community/visits/{role_visit}/-/delete", None,
               {"anonymous": 403, "viewer": 403, "staff": 403, "admin": 200}),
    # Datasette never serves a writable database file: copies come from the CLI.
    "download": ("GET", "/community.db", None,
                 {"anonymous": 403, "viewer": 403, "staff": 403, "admin": 403}),
    "accounts": ("GET", "/-/shequ/accounts", None,
                 {"anonymous": 302, "viewer": 403, "staff": 403, "admin": 200}),
    "audit": ("GET", "/community/audit_log.json", None,
              {"anonymous": 403, "viewer": 403, "staff": 200, "admin": 200}),
    "history": ("GET", "/-/shequ/history/persons/1", None,
                {"anonymous": 403, "viewer": 403, "staff": 200, "admin": 200}),
    "restore": ("POST", "/-/shequ/restore", None,
                {"anonymous": 403, "viewer": 403, "staff": 403, "admin": 302}),
    "audit-delete": ("POST", "/community/audit_log/1/-/delete", None,
                     {"anonymous": 403, "viewer": 403, "staff": 403, "admin": 403}),
    "audit-update": ("POST", "/community/audit_log/1/-/update", {"update": {"actor": "x"}},
                     {"anonymous": 403, "viewer": 403, "staff": 403, "admin": 403}),
    "programme-insert": ("POST", "/community/programs/-/insert",
                         {"row": {"name": "矩阵项目", "category": "慰问"}},
                         {"anonymous": 403, "viewer": 403, "staff": 403, "admin": 201}),
    "write-sql": ("POST", "/community/-/execute-write", {"sql": "delete from visits"},
                  {"anonymous": 403, "viewer": 403, "staff": 403, "admin": 403}),
    # summary aggregates are derived: readable by staff roles, writable by nobody
    "aggregate-read": ("GET", "/community/agg_relief.json", None,
                       {"anonymous": 403, "viewer": 200, "staff": 200, "admin": 200}),
    "aggregate-insert": ("POST", "/community/agg_relief/-/insert",
                         {"row": {"dim": "category", "community_id": 0, "year": "", "grp": "假", "payments": 1,
                                  "recipients": 1, "fen": 1}},
                         {"anonymous": 403, "viewer": 403, "staff": 403, "admin": 403}),
    "aggregate-update": ("POST", "/community/agg_cov_span/-/insert",
                         {"row": {"community_id": 0, "group_name": "低保", "start_year": 0, "end_year": 0,
                                  "persons": 99}, "upsert": True},
                         {"anonymous": 403, "viewer": 403, "staff": 403, "admin": 403}),
    "aggregate-scratch": ("POST", "/community/_agg_pset/-/insert", {"row": {"person_id": 1}},
                          {"anonymous": 403, "viewer": 403, "staff": 403, "admin": 403}),
    "form": ("GET", "/-/shequ/form/disbursement", None,
             {"anonymous": 403, "viewer": 403, "staff": 200, "admin": 200}),
    "stored-write": ("POST", "/community/stop_dibao?_json=1", None,
                     {"anonymous": 403, "viewer": 403, "staff": 200, "admin": 200}),
}
DELETE_TARGET = {"anonymous": 2, "viewer": 3, "staff": 4, "admin": 5}


@pytest.fixture(scope="module")
async def matrix_ds(built_dir, tmp_path_factory):
    import shutil
    path = tmp_path_factory.mktemp("roles") / "data"
    shutil.copytree(built_dir, path)
    ds = make_datasette(path)
    jar = {"anonymous": {}}
    for role in ("viewer", "staff", "admin"):
        jar[role] = await login(ds, f"{role}1")
    return ds, jar


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(MATRIX))
async def test_role_action_matrix(matrix_ds, role, action):
    ds, jar = matrix_ds
    method, path, body, expected = MATRIX[action]
    path = path.format(role_visit=DELETE_TARGET[role])
    if method == "GET":
        response = await ds.client.get(path, cookies=jar[role])
    elif action == "restore":
        response = await ds.client.post(path, data={"table": "persons", "row_id": "1", "audit_id": "4"},
                                        cookies=jar[role])
    elif action == "stored-write":
        response = await ds.client.post(path, data={"enrolment_id": "1", "end_month": "2012-10"},
                                        cookies=jar[role])
    else:
        response = await ds.client.post(path, json=body, cookies=jar[role])
    assert response.status_code == expected[role], response.text[:300]
