"""Complementary suppression (ingest/suppress.py) on random hierarchical tables, checked by
the independent rational elimination of tests/test_publish.py: the incremental circuit
bookkeeping finds exactly the cells the equations do not determine, `protect` leaves no
suppressed cell determined, and it is deterministic whatever the string hashing."""
from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys

import pytest

from ingest import ROOT
from ingest.suppress import Columns, P, _null_vector_through, determined, protect

from .test_publish import _solvable


def table(rng, years=3, communities=3, categories=2, programmes=3, absent=0.15):
    """Cells (kind, year, community, item) of a programme × community × year table with
    totals ('' = all) and programmes adding up to categories; some programmes are absent
    (zero, not published) in some years and communities. Returns (cells, equations)."""
    ys, cs = [str(2020 + i) for i in range(years)], [f"c{i}" for i in range(communities)]
    items = {f"k{k}": [f"k{k}p{p}" for p in range(programmes)] for k in range(categories)}
    leaves = {(y, c, p) for y in ys for c in cs for ps in items.values() for p in ps if rng.random() >= absent}
    cells = set()
    for y, c, p in leaves:
        k = p[:2]
        for yy, cc in itertools.product((y, ""), (c, "")):
            cells |= {("prog", yy, cc, p), ("cat", yy, cc, k)}
    eqs = []
    for kind in ("prog", "cat"):
        group = {cell for cell in cells if cell[0] == kind}
        for cell in group:
            _, y, c, i = cell
            if c == "":
                eqs.append((cell, sorted(o for o in group if o[1] == y and o[3] == i and o[2])))
            if y == "":
                eqs.append((cell, sorted(o for o in group if o[2] == c and o[3] == i and o[1])))
    for cell in cells:
        if cell[0] == "cat":
            eqs.append((cell, sorted(o for o in cells if o[0] == "prog" and o[1:3] == cell[1:3]
                                     and o[3].startswith(cell[3]))))
    return sorted(cells), [(t, p) for t, p in sorted(eqs) if p]


def weights(cells, rng):
    """Values (payments) of the cells: random for the programmes of a year and community,
    sums for the others."""
    leaf = {c: rng.randint(1, 50) for c in cells if c[0] == "prog" and "" not in c[1:3]}
    return {c: sum(v for (_, y, k, p), v in leaf.items() if c[1] in ("", y) and c[2] in ("", k)
                   and p.startswith(c[3])) for c in cells}


def test_columns_find_exactly_the_undetermined_cells():
    counts = [_columns_against_rationals(random.Random(seed)) for seed in range(12)]
    assert sum(safe for _, safe in counts) > 20 and sum(exposed for exposed, _ in counts) > 20


def _columns_against_rationals(rng):
    cells, eqs = table(rng, years=rng.randint(2, 3), communities=rng.randint(2, 3))
    # a protected set with a few cells taken out and a few put in: some safe, some not
    hidden = protect(eqs, set(rng.sample(cells, k=4)), weights(cells, rng).get)
    hidden = (hidden - set(rng.sample(sorted(hidden), k=2))) | set(rng.sample(cells, k=3))
    columns = Columns(eqs)
    for cell in rng.sample(sorted(hidden), k=len(hidden)):
        columns.add(cell)
    exposed = _solvable(eqs, hidden)
    assert hidden - columns.safe == exposed
    assert determined(eqs, hidden) == exposed
    return len(exposed), len(hidden) - len(exposed)


@pytest.mark.parametrize("seed", range(12))
def test_protect_leaves_nothing_determined(seed):
    rng = random.Random(100 + seed)
    cells, eqs = table(rng, years=rng.randint(2, 4), communities=rng.randint(2, 4))
    weight = weights(cells, rng)
    primary = set(rng.sample(cells, k=rng.randint(1, 6)))
    hidden = protect(eqs, primary, weight.get)
    assert primary <= hidden
    assert _solvable(eqs, hidden) == set()


def test_one_small_cell_costs_a_cube():
    """An inner cell of a complete programme × community × year table needs a cube of 8
    (two programmes of its category × two communities × two years), and no more."""
    rng = random.Random(0)
    cells, eqs = table(rng, years=3, communities=3, absent=0)
    weight = weights(cells, rng)
    hidden = protect(eqs, {("prog", "2021", "c1", "k0p1")}, weight.get)
    assert len(hidden) == 8 and _solvable(eqs, hidden) == set()
    assert {c[0] for c in hidden} == {"prog"}


@pytest.mark.parametrize("seed", range(6))
def test_searched_changes_leave_every_equation_true(seed):
    rng = random.Random(200 + seed)
    cells, eqs = table(rng, years=3, communities=3)
    weight = weights(cells, rng)
    columns = Columns(eqs)
    for cell in rng.sample(cells, k=5):
        vector = _null_vector_through(cell, columns, set(), weight.get)
        if vector is None:
            continue
        assert vector[cell]
        for total, parts in eqs:
            assert (vector.get(total, 0) - sum(vector.get(p, 0) for p in parts)) % P == 0


def test_same_result_whatever_the_string_hashing():
    script = (
        "import json, random, sys; sys.path[:0] = [sys.argv[1]];"
        "from tests.test_suppress import table, weights; from ingest.suppress import protect;"
        "rng = random.Random(7); cells, eqs = table(rng, years=4, communities=4);"
        "w = weights(cells, rng); primary = set(rng.sample(cells, k=8));"
        "print(json.dumps(sorted(protect(eqs, primary, w.get))))")
    runs = [subprocess.run([sys.executable, "-c", script, str(ROOT)], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert runs[0] == runs[1] and json.loads(runs[0])
