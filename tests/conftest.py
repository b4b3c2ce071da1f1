"""Shared fixtures: the sample data built once into a temporary data directory, one
account per role, and the same Datasette app `shequ serve` runs, driven in-process."""
from __future__ import annotations

import shutil

import pytest

from ingest import ROOT, accounts, datadir
from ingest.app import make_datasette
from ingest.cli import build_sample
from ingest.publish import build as build_public

SAMPLE_DIR = ROOT / "sample"
PASSWORD = "correct-horse-42"
ROLES = ("admin", "staff", "viewer")


@pytest.fixture(scope="session")
def built_dir(tmp_path_factory):
    """A data directory with the sample community.db, its public.db and one account per role."""
    path = tmp_path_factory.mktemp("data")
    reports = build_sample(path)
    assert all(r.ok for r in reports), [r.summary() for r in reports]
    build_public(datadir.community_db(path), datadir.public_db(path))
    conn = accounts.connect(datadir.accounts_db(path))
    for role in ROLES:
        accounts.add_user(conn, f"{role}1", role, PASSWORD)
    conn.close()
    return path


@pytest.fixture
def data_dir(built_dir, tmp_path):
    """A private copy of the built data directory, for tests that write."""
    path = tmp_path / "data"
    shutil.copytree(built_dir, path)
    return path


@pytest.fixture(scope="session")
def ds(built_dir):
    return make_datasette(built_dir)


async def login(ds, username, password=PASSWORD) -> dict:
    response = await ds.client.post("/-/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.text
    return {"shequ_session": response.cookies["shequ_session"]}


@pytest.fixture(scope="session")
async def cookies(ds):
    """Session cookies per role; anonymous is the empty dict."""
    jar = {role: await login(ds, f"{role}1") for role in ROLES}
    jar["anonymous"] = {}
    return jar
