"""Small-cell suppression that cannot be undone by subtraction.

Cells are published numbers (one key per table row); equations say `total = sum(parts)`
wherever the published tables add up (parts to category, months to year, communities to
all, years to all years). A suppressed cell is *determined* when the published cells pin
its value down exactly, i.e. its unit vector lies in the row space of the equations
restricted to the suppressed cells. `protect` adds complementary suppressions until no
suppressed cell is determined. Linear algebra is exact, over GF(2^61 - 1) (coefficients
are 0 and ±1, so a rank difference from the rationals would need a minor divisible by
that prime).
"""
from __future__ import annotations

from collections import defaultdict, deque

P = (1 << 61) - 1
BATCH_ABOVE = 200  # cells in a component above which complements are added in batches


def _reduced_rows(equations, suppressed):
    """Reduced row echelon form (sparse, mod P) of the equations on the suppressed cells."""
    pivots: dict = {}  # pivot cell -> row (dict cell -> coefficient), pivot coefficient 1
    for total, parts in equations:
        row = defaultdict(int)
        if total in suppressed:
            row[total] += 1
        for part in parts:
            if part in suppressed:
                row[part] -= 1
        row = {k: c % P for k, c in row.items() if c % P}
        while row:
            hit = next((k for k in row if k in pivots), None)
            if hit is None:
                break
            factor = row[hit]
            for k, c in pivots[hit].items():
                row[k] = (row.get(k, 0) - factor * c) % P
            row = {k: c for k, c in row.items() if c}
        if not row:
            continue
        pivot = min(row, key=repr)
        inverse = pow(row[pivot], P - 2, P)
        row = {k: c * inverse % P for k, c in row.items()}
        for other in pivots.values():
            if pivot in other:
                factor = other[pivot]
                for k, c in row.items():
                    other[k] = (other.get(k, 0) - factor * c) % P
                for k in [k for k, c in other.items() if not c]:
                    del other[k]
        pivots[pivot] = row
    return pivots


def determined(equations, suppressed) -> set:
    """Suppressed cells whose exact value follows from the published cells."""
    return {pivot for pivot, row in _reduced_rows(equations, suppressed).items() if len(row) == 1}


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
    """Primary suppressions plus the fewest-weight complements that leave none determined.

    `weight(cell)` ranks candidates for complementary suppression (smallest first)."""
    find, merged = _merge_equal_cells(equations)
    members = defaultdict(set)
    for cell in {c for total, parts in equations for c in (total, *parts)} | set(primary):
        members[find(cell)].add(cell)
    chosen = _protect({find(c) for c in primary}, merged, weight)
    return {cell for rep in chosen for cell in members[rep]}


def _components(equations, suppressed):
    """Suppressed cells linked through shared equations: each group is solved alone."""
    parent = {cell: cell for cell in suppressed}

    def find(cell):
        while parent[cell] != cell:
            parent[cell] = parent[parent[cell]]
            cell = parent[cell]
        return cell
    for total, parts in equations:
        hidden = [c for c in (total, *parts) if c in parent]
        for a, b in zip(hidden, hidden[1:]):
            parent[find(a)] = find(b)
    groups = defaultdict(set)
    for cell in suppressed:
        groups[find(cell)].add(cell)
    return [frozenset(g) for g in groups.values()]


def _protect(primary, equations, weight) -> set:
    suppressed = set(primary)
    touching = defaultdict(list)
    for index, (total, parts) in enumerate(equations):
        for cell in (total, *parts):
            touching[cell].append(index)
    safe = set()  # components already checked: nothing in them is determined
    while True:
        added = set()
        for component in _components(equations, suppressed):
            if component in safe:
                continue
            mine = [equations[i] for i in {i for c in component for i in touching[c]}]
            exposed = determined(mine, component)
            if not exposed:
                safe.add(component)
                continue
            # Small components: one complement per round (the lightest near an exposed cell),
            # since one often covers several exposed cells. Large ones: one per exposed
            # cell, or the rounds (each a full elimination) would never end.
            choices = {c for c in (_nearest_candidate(cell, equations, touching, suppressed | added,
                                                      weight) for cell in exposed) if c is not None}
            if len(component) > BATCH_ABOVE:
                added |= choices
            elif choices:
                added.add(min(choices, key=lambda c: (weight(c), repr(c))))
        if not added:
            return suppressed
        suppressed |= added


def _nearest_candidate(cell, equations, touching, suppressed, weight):
    """The lightest published cell in the equations around `cell` (breadth first)."""
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
