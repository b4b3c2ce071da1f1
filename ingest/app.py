"""Build the Datasette instance that `shequ serve` runs and the tests drive in-process."""
from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

import yaml
from datasette.app import Datasette

from . import ROOT, datadir


@lru_cache(maxsize=None)
def load_yaml(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def make_datasette(db_dir, *, public_only=False) -> Datasette:
    """The staff database (unless public_only) and, when it has been built, public.db."""
    db_dir = Path(db_dir)
    public = datadir.public_db(db_dir)
    config = copy.deepcopy(load_yaml("datasette.yaml"))
    config.setdefault("plugins", {}).setdefault("shequ", {})["db_dir"] = str(db_dir.resolve())
    return Datasette(
        files=[] if public_only else [str(datadir.community_db(db_dir))],
        immutables=[str(public)] if public.exists() else [],
        config=config,
        metadata=copy.deepcopy(load_yaml("metadata.yml")),
        plugins_dir=str(ROOT / "plugins"),
        template_dir=str(ROOT / "templates"),
        static_mounts=[("shequ-static", str(ROOT / "static"))],
        secret=datadir.secret(db_dir),
    )
