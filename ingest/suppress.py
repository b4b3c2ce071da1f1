"""Small-cell suppression that cannot be undone by subtraction.

Cells are published numbers (one key per table row); equations say `total = sum(parts)`
wherever the published tables add up (parts to category, months to year, communities to
all, years to all years). A suppressed cell is *determined* when the published cells pin
its value down exactly, i.e. its unit vector lies in the row space of the equations
restricted to the suppressed cells. Equivalently: no change of the suppressed cells that
leaves every equation true (a null vector of that matrix) changes it. In matroid terms, on
the columns of that matrix (one per suppressed cell), the determined cells are the coloops
and the safe ones are those on a circuit.

`protect` adds complementary suppressions until no suppressed cell is determined. The
suppressed cells go one at a time into an incremental column echelon form (`Columns`): a
column that reduces to zero closes a circuit, whose cells are safe from then on (more
suppression never makes a safe cell determined again). For each cell still exposed, a
greedy search builds a null vector through it - in these tables the pattern of a small
hypercube: two months × two communities, two programmes × two communities × two years …
- and suppresses its published cells. So the cost is a sparse reduction per suppressed
cell and a short search per exposed one, not an elimination per round. Linear algebra is
exact, over GF(2^61 - 1) (coefficients are 0 and ±1, so a rank difference from the
rationals would need a minor divisible by that prime). At the end a random null vector,
from a separate elimination and checked against every equation, certifies every
suppressed cell.
"""
from __future__ import annotations

import heapq
import random
from collections import defaultdict, deque

P = (1 << 61) - 1
SEARCH_LIMIT = 64  # cells a searched null vector may change


def _axpy(target: dict, factor: int, source: dict) -> list:
    """target -= factor * source (mod P), in place; returns the keys new to target."""
    new = []
    for k, c in source.items():
        value = target.get(k)
        if value is None:
            target[k] = -factor * c % P
            new.append(k)
        else:
            value = (value - factor * c) % P
            if value:
                target[k] = value
            else:
                del target[k]
    return new


class Columns:
    """An incremental column echelon form of the equations on the suppressed cells.

    Each basis column is kept with its history: the combination of cells' columns it is.
    A new cell's column is reduced against the basis (earliest pivot first: a basis column
    holds only later pivots); if nothing is left, the reduced history is a circuit."""

    def __init__(self, equations):
        self.equations = equations
        self.touching = defaultdict(list)  # cell -> equations it is in, in order
        columns = defaultdict(lambda: defaultdict(int))
        for index, (total, parts) in enumerate(equations):
            for cell in dict.fromkeys((total, *parts)):
                self.touching[cell].append(index)
            columns[total][index] += 1
            for part in parts:
                columns[part][index] -= 1
        self._columns = {cell: {k: c % P for k, c in column.items() if c % P}
                         for cell, column in columns.items()}
        self._cells = {}
        self.basis = {}  # pivot equation -> (rank, column, history)
        self.safe = set()

    def cells_of(self, index) -> frozenset:
        cells = self._cells.get(index)
        if cells is None:
            total, parts = self.equations[index]
            cells = self._cells[index] = frozenset((total, *parts))
        return cells

    def column(self, cell) -> dict:
        """{equation: coefficient} of `cell` (do not modify)."""
        return self._columns.get(cell, {})

    def _reduce(self, cell):
        column, history = dict(self.column(cell)), {cell: 1}
        pending = [(self.basis[r][0], r) for r in column if r in self.basis]
        heapq.heapify(pending)
        while pending:
            _, row = heapq.heappop(pending)
            factor = column.get(row)
            if not factor:
                continue
            _, pivot_column, pivot_history = self.basis[row]
            for k in _axpy(column, factor, pivot_column):
                if k in self.basis:
                    heapq.heappush(pending, (self.basis[k][0], k))
            _axpy(history, factor, pivot_history)
        return column, history

    def add(self, cell) -> None:
        column, history = self._reduce(cell)
        if not column:
            self.safe |= history.keys()
            return
        pivot = min(column, key=lambda r: (len(self.equations[r][1]), r))
        inverse = pow(column[pivot], P - 2, P)
        self.basis[pivot] = (len(self.basis), {k: c * inverse % P for k, c in column.items()},
                             {k: c * inverse % P for k, c in history.items()})


def _null_vector(equations, suppressed, rng) -> dict:
    """A random vector v (mod P) over the suppressed cells that every equation annuls:
    changing the suppressed cells by v leaves every published cell as it is. Sparse
    elimination to row echelon form (pivot: the cell in the fewest rows), random values
    for the free cells, back substitution."""
    rows, count = [], defaultdict(int)
    for total, parts in equations:
        row = defaultdict(int)
        if total in suppressed:
            row[total] += 1
        for part in parts:
            if part in suppressed:
                row[part] -= 1
        row = {k: c % P for k, c in row.items() if c % P}
        if row:
            rows.append(row)
            for k in row:
                count[k] += 1
    rows.sort(key=len)
    position, pivot_rows, order = {}, {}, []  # pivot cell -> its index in order, its row
    for row in rows:
        pending = [position[k] for k in row if k in position]
        heapq.heapify(pending)
        while pending:
            pivot = order[heapq.heappop(pending)]
            factor = row.get(pivot)
            if factor:
                for k in _axpy(row, factor, pivot_rows[pivot]):
                    if k in position:
                        heapq.heappush(pending, position[k])
        if not row:
            continue
        pivot = min(row, key=lambda k: (count[k], repr(k)))
        inverse = pow(row[pivot], P - 2, P)
        position[pivot] = len(order)
        order.append(pivot)
        pivot_rows[pivot] = {k: c * inverse % P for k, c in row.items()}
    vector = {cell: rng.randrange(1, P) for cell in sorted(suppressed, key=repr) if cell not in pivot_rows}
    for pivot in reversed(order):
        vector[pivot] = -sum(c * vector[k] for k, c in pivot_rows[pivot].items() if k != pivot) % P
    for total, parts in equations:  # the certificate is checked, not trusted
        if (vector.get(total, 0) - sum(vector.get(p, 0) for p in parts)) % P:
            raise RuntimeError("补充抑制：零空间向量不满足方程")
    return vector


def determined(equations, suppressed, seed=0) -> set:
    """Suppressed cells whose value may follow from the published cells: those a random
    null vector leaves unchanged. Every other cell is certainly safe (the vector changes
    it and no published cell); a safe cell lands here only by a 1 in 2^61 chance."""
    vector = _null_vector(equations, suppressed, random.Random(seed))
    return {cell for cell in suppressed if not vector[cell]}


def _merge_equal_cells(equations):
    """Cells that an equation with a single part makes equal (a community that is all
    communities, a year that is all years) are one unknown: map each to one representative."""
    parent = {}

    def find(cell):
        parent.setdefault(cell, cell)
        while parent[cell] != cell:
            parent[cell] = parent[parent[cell]]
            cell = parent[cell]
        return cell
    for total, parts in equations:
        if len(parts) == 1:
            a, b = sorted((find(total), find(parts[0])), key=repr)
            parent[b] = a
    merged = []
    for total, parts in equations:
        total, parts = find(total), [find(p) for p in parts]
        if parts != [total]:
            merged.append((total, parts))
    return find, merged


def protect(equations, primary, weight) -> set:
    """Primary suppressions plus complements (light ones first) that leave none determined.

    `weight(cell)` ranks candidates for complementary suppression (smallest first)."""
    find, merged = _merge_equal_cells(equations)
    members = defaultdict(set)
    for cell in {c for total, parts in equations for c in (total, *parts)} | set(primary):
        members[find(cell)].add(cell)
    chosen = _protect({find(c) for c in primary}, merged, weight)
    return {cell for rep in chosen for cell in members[rep]}


def _protect(primary, equations, weight) -> set:
    columns = Columns(equations)
    suppressed = set()
    for cell in sorted(primary, key=repr):
        suppressed.add(cell)
        columns.add(cell)
    hopeless = set()  # exposed, but every cell around them is suppressed already
    while True:
        exposed = sorted(suppressed - columns.safe - hopeless, key=lambda c: (weight(c), repr(c)))
        if not exposed:
            break
        for cell in exposed:  # each step suppresses one cell or more, or gives one up
            if cell in columns.safe:
                continue
            vector = _null_vector_through(cell, columns, suppressed, weight) or {}
            complements = [c for c in sorted(vector, key=repr) if c not in suppressed]
            if not complements:  # no pattern found: the nearest light cell, and look again
                complements = [_nearest_candidate(cell, columns, suppressed, weight)]
                if complements == [None]:
                    hopeless.add(cell)
                    continue
            for complement in complements:
                suppressed.add(complement)
                columns.add(complement)
    # Certify with an independent elimination: every suppressed cell is moved by a null
    # vector (cells around which everything is suppressed are determined only as 0).
    left = determined(equations, suppressed) - hopeless
    if left:
        raise RuntimeError(f"补充抑制未完成：{len(left)} 个隐藏格子仍可解出")
    return suppressed


def _null_vector_through(cell, columns, suppressed, weight, limit=SEARCH_LIMIT):
    """A change of a few cells, `cell` among them, that leaves every equation true (the
    pattern of a hypercube: two communities × two years × two programmes, two months ×
    two communities …), found greedily: start from +1 on `cell`; while some equation is
    off (the one with the fewest cells first), set a new cell of it so that it holds
    again, choosing the cell that puts the fewest equations off, then one that a single
    further cell could balance together with another equation that is off, then one
    suppressed already, then the lightest. Returns {cell: change}, or None when it grows
    beyond `limit` cells."""
    equations, cells_of = columns.equations, columns.cells_of
    vector, residual = {}, {}

    def move(target, delta):
        vector[target] = delta
        for index, c in columns.column(target).items():
            r = (residual.get(index, 0) + c * delta) % P
            if r:
                residual[index] = r
            else:
                del residual[index]
    move(cell, 1)
    while residual:
        if len(vector) > limit:
            return None
        index = min(residual, key=lambda i: (len(equations[i][1]), i))
        off = residual[index]
        scored, fewest = [], None  # (equations it puts off, less those it sets right; cell; change; column)
        for other in cells_of(index):
            column = columns.column(other)
            coefficient = column.get(index)
            if other in vector or not coefficient:
                continue
            delta = (-off if coefficient == 1 else off if coefficient == P - 1
                     else -off * pow(coefficient, P - 2, P)) % P
            worse = 0
            for j, c in column.items():
                if j != index:
                    before = residual.get(j, 0)
                    worse += (before == 0) - ((before + c * delta) % P == 0)
            if fewest is None or worse <= fewest:
                fewest = worse
                scored.append((worse, other, delta, column))
        if not scored:
            return None
        hot = set()  # cells of the other equations that are off, free to change
        for other_index in residual:
            if other_index != index:
                hot |= cells_of(other_index)
        hot -= vector.keys()
        best = None
        for worse, other, delta, column in scored:
            if worse != fewest:
                continue
            closable = any((residual.get(j, 0) + c * delta) % P and not hot.isdisjoint(cells_of(j))
                           for j, c in column.items() if j != index)
            key = (not closable, 0 if other in suppressed else weight(other), repr(other))
            if best is None or key < best[0]:
                best = (key, other, delta)
        move(best[1], best[2])
    return vector


def _nearest_candidate(cell, columns, suppressed, weight):
    """The lightest published cell in the equations around `cell` (breadth first)."""
    equations, touching = columns.equations, columns.touching
    seen_cells, seen_eqs = {cell}, set()
    queue = deque([cell])
    while queue:
        candidates = []
        for _ in range(len(queue)):
            current = queue.popleft()
            for index in touching[current]:
                if index in seen_eqs:
                    continue
                seen_eqs.add(index)
                total, parts = equations[index]
                for other in (total, *parts):
                    if other in suppressed:
                        if other not in seen_cells:
                            seen_cells.add(other)
                            queue.append(other)
                    else:
                        candidates.append((other == total, weight(other), repr(other), other))
        if candidates:
            return min(candidates)[3]
    return None
