"""Small-cell suppression for public figures (docs/report.md, "Public figures").

Published counts of people and convictions can identify someone when they are
small ("2 Native American people were not eligible"). The public report hides them
in two steps:

1. **Primary suppression.** Every count from 1 to 10 is hidden (cells under 11, the
   threshold of the CMS cell-size suppression policy). A zero is shown: it describes
   nobody's record, and hiding every structural zero (no HS 11357 conviction is ever
   reduced) would hide most tables for nothing.
2. **Complementary suppression.** Figures are tied by sums: a table's cells add up
   to its row totals and to its column totals, and the column totals are headline
   figures that several tables share. A hidden cell would be given away by
   subtraction if it were the only hidden cell of a sum, or, more subtly, if some
   combination of sums pinned it down. More cells are hidden until no hidden cell
   is determined by what is published.

How the complements are chosen. A table with totals is a graph: one vertex per row
and per column (the total row and the total column included), one edge per cell
joining its row and its column; a list with a total (a 1-D tally) is a bundle of
edges between its sum and a free vertex. A set of hidden cells can be shifted
without changing any published figure exactly when the hidden edges form a cycle
(+1, -1, +1, ... around it), so a hidden cell is safe exactly when its edge lies on
a cycle of hidden edges, and exposed when it is a bridge. Each bridge is closed by
the cheapest path of published cells between its two ends (Dijkstra: hidden cells
cost nothing, a published cell costs its count, a zero costs most), so few and
small cells are hidden, inner cells before totals. A table's column totals shared
with other tables are hidden in all of them alike.

Because tables share totals, a last check treats every sum of every table at once
as one linear system, the hidden cells its unknowns: a hidden cell is determined
when its unit vector lies in the row space of that system (every solution gives it
the same value). Any cell still determined gets the cheapest complement that frees
it, and the whole process repeats.

Every complement is a non-zero count where there is one. With every hidden cell at
least 1, the cycle protecting a cell can be shifted by one in either direction
without a negative count, so another table consistent with everything published
gives the cell another value (tests/test_suppress.py checks exactly that).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

THRESHOLD = 11  # counts below this (and above zero) are never published
ZERO_COST = 10**9  # a zero is hidden as a complement only when nothing else will do
MAX_COMPLEMENTS = 3  # cells added at once by the last, linear-algebra step
SEARCH_BUDGET = 60  # exposure tests per cell in that step before the greedy fallback

Key = Hashable
Edge = tuple[Key, Hashable, Hashable]  # a cell, and the two vertices it joins
FREE = ("free",)
INFINITE = 1 << 62  # the vertex of a 1-D list's edges that no sum constrains


@dataclass(frozen=True)
class Relation:
    """``total`` is the sum of ``parts``: a row, a column, or a headline and its parts."""

    total: Key
    parts: tuple[Key, ...]

    @property
    def cells(self) -> tuple[Key, ...]:
        return (self.total, *self.parts)


@dataclass(frozen=True)
class Grid:
    """A table with totals: ``rows[r]`` is a row's cells then its total; ``totals``
    the column totals then the grand total."""

    rows: tuple[tuple[Key, ...], ...]
    totals: tuple[Key, ...]

    def edges(self) -> list[Edge]:
        width = len(self.totals)
        edges = []
        for r, row in enumerate((*self.rows, self.totals)):
            if len(row) != width:
                raise ValueError("every row of a grid needs one cell per column and a total")
            edges.extend((cell, ("row", r), ("column", c)) for c, cell in enumerate(row))
        return edges

    def relations(self) -> list[Relation]:
        every = (*self.rows, self.totals)
        result = [Relation(row[-1], tuple(row[:-1])) for row in every]
        for c in range(len(self.totals)):
            result.append(Relation(self.totals[c], tuple(row[c] for row in self.rows)))
        return result


@dataclass(frozen=True)
class Line:
    """A list of parts and their total (a 1-D tally)."""

    parts: tuple[Key, ...]
    total: Key

    def edges(self) -> list[Edge]:
        return [(cell, ("sum",), FREE) for cell in (*self.parts, self.total)]

    def relations(self) -> list[Relation]:
        return [Relation(self.total, self.parts)]


Table = Grid | Line


def primary(values: Mapping[Key, int], threshold: int = THRESHOLD) -> set[Key]:
    """Cells whose count is small enough to identify someone: 1 to ``threshold`` - 1."""
    return {key for key, value in values.items() if 0 < value < threshold}


def suppress(
    values: Mapping[Key, int],
    tables: Sequence[Table],
    *,
    threshold: int = THRESHOLD,
) -> set[Key]:
    """The cells to hide: primary cells, then complements until none is exposed.

    ``values`` holds every count that may be published; cells of no table are
    hidden only when small. The result depends only on the values and tables (ties
    go to the cell that comes first in ``values``).
    """
    relations = [r for t in tables for r in t.relations()]
    missing = {c for r in relations for c in r.cells} - set(values)
    if missing:
        raise ValueError(f"tables name cells without a value: {sorted(map(str, missing))[:5]}")
    order = {key: i for i, key in enumerate(values)}

    def cost(key: Key) -> int:
        # A zero protects nothing beyond linear algebra (see above): last resort only.
        return ZERO_COST if values[key] == 0 else int(values[key]) + 1

    hidden = primary(values, threshold)
    graphs = [t.edges() for t in tables]
    while True:
        changed = True
        while changed:
            changed = False
            for edges in graphs:
                added = _close_bridges(edges, hidden, cost, order)
                if added:
                    hidden |= added
                    changed = True
        still = exposed(relations, hidden)
        if not still:
            return hidden
        cell = min(still, key=order.__getitem__)
        hidden |= _cover(cell, relations, hidden, cost, order)


def _close_bridges(
    edges: list[Edge], hidden: set[Key], cost: Callable[[Key], int], order: Mapping[Key, int]
) -> set[Key]:
    """Cells to hide so that no hidden cell of this table is a bridge of hidden edges."""
    added: set[Key] = set()
    while True:
        now = hidden | added
        positions = [i for i, e in enumerate(edges) if e[0] in now]
        bridges = _bridges([edges[i] for i in positions])
        if not bridges:
            return added
        index, (_, u, v) = min(bridges, key=lambda b: order[b[1][0]])
        path = _cheapest_path(edges, now, u, v, skip=positions[index], cost=cost, order=order)
        if not path:
            return added  # nothing in this table can close it; the global step will
        added |= path


def _bridges(edges: list[Edge]) -> list[tuple[int, Edge]]:
    """The bridges of a multigraph (Tarjan's low-link, iterative; parallel edges are not
    bridges). Returns (position in ``edges``, edge)."""
    adjacency: dict[Hashable, list[tuple[Hashable, int]]] = {}
    for i, (_, u, v) in enumerate(edges):
        adjacency.setdefault(u, []).append((v, i))
        adjacency.setdefault(v, []).append((u, i))
    discovered: dict[Hashable, int] = {}
    low: dict[Hashable, int] = {}
    found: list[tuple[int, Edge]] = []
    counter = 0
    for root in adjacency:
        if root in discovered:
            continue
        discovered[root] = low[root] = counter
        counter += 1
        stack = [(root, -1, iter(adjacency[root]))]
        while stack:
            node, via, neighbours = stack[-1]
            advanced = False
            for neighbour, edge in neighbours:
                if edge == via:
                    continue
                if neighbour in discovered:
                    low[node] = min(low[node], discovered[neighbour])
                else:
                    discovered[neighbour] = low[neighbour] = counter
                    counter += 1
                    stack.append((neighbour, edge, iter(adjacency[neighbour])))
                    advanced = True
                    break
            if advanced:
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if low[node] > discovered[parent]:
                    found.append((via, edges[via]))
    return found


def _cheapest_path(
    edges: list[Edge],
    hidden: set[Key],
    start: Hashable,
    goal: Hashable,
    *,
    skip: int,
    cost: Callable[[Key], int],
    order: Mapping[Key, int],
) -> set[Key] | None:
    """Published cells on the cheapest path from ``start`` to ``goal`` (Dijkstra)."""
    adjacency: dict[Hashable, list[tuple[Hashable, Key]]] = {}
    for i, (cell, u, v) in enumerate(edges):
        if i != skip:
            adjacency.setdefault(u, []).append((v, cell))
            adjacency.setdefault(v, []).append((u, cell))
    best: dict[Hashable, int] = {start: 0}
    back: dict[Hashable, tuple[Hashable, Key]] = {}
    heap: list[tuple[int, int, int, Hashable]] = [(0, 0, 0, start)]
    tick = 0
    while heap:
        spent, _, _, node = heapq.heappop(heap)
        if node == goal:
            break
        if spent > best.get(node, spent):
            continue
        for neighbour, cell in adjacency.get(node, ()):
            step = 0 if cell in hidden else cost(cell)
            if spent + step < best.get(neighbour, INFINITE):
                best[neighbour] = spent + step
                back[neighbour] = (node, cell)
                tick += 1
                heapq.heappush(heap, (spent + step, order.get(cell, 0), tick, neighbour))
    if goal not in back:
        return None
    path: set[Key] = set()
    node = goal
    while node != start:
        node, cell = back[node]
        if cell not in hidden:
            path.add(cell)
    return path


def _cover(
    cell: Key,
    relations: Sequence[Relation],
    hidden: set[Key],
    cost: Callable[[Key], int],
    order: Mapping[Key, int],
) -> set[Key]:
    """The cheapest published cells whose hiding stops ``cell`` being determined.

    Uniform-cost search over small sets of cells sharing a sum with ``cell`` or with a
    cell already chosen; falls back to the cheapest neighbour when the budget runs out
    (the caller's loop then tests again, and every round hides at least one cell).
    """
    by_cell: dict[Key, list[Relation]] = {}
    for relation in relations:
        for member in relation.cells:
            by_cell.setdefault(member, []).append(relation)

    def neighbours(key: Key) -> set[Key]:
        return {c for r in by_cell.get(key, ()) for c in r.cells if c not in hidden}

    heap: list[tuple[int, tuple[int, ...], tuple[Key, ...]]] = [(0, (), ())]
    seen: set[tuple[Key, ...]] = {()}
    tests = 0
    while heap and tests < SEARCH_BUDGET:
        spent, _, chosen = heapq.heappop(heap)
        if chosen:
            tests += 1
            if cell not in exposed(relations, hidden | set(chosen)):
                return set(chosen)
        if len(chosen) >= MAX_COMPLEMENTS:
            continue
        frontier = neighbours(cell).union(*(neighbours(c) for c in chosen))
        for candidate in frontier.difference(chosen):
            grown = tuple(sorted((*chosen, candidate), key=order.__getitem__))
            if grown not in seen:
                seen.add(grown)
                rank = tuple(order[c] for c in grown)
                heapq.heappush(heap, (spent + cost(candidate), rank, grown))
    candidates = neighbours(cell) or {
        c for n in {m for r in by_cell.get(cell, ()) for m in r.cells} for c in neighbours(n)
    }
    if not candidates:
        raise ValueError(f"cannot protect cell {cell!r}: nothing left to hide beside it")
    return {min(candidates, key=lambda c: (cost(c), order[c]))}


def exposed(relations: Iterable[Relation], hidden: Collection[Key]) -> set[Key]:
    """Hidden cells that the published cells determine through the sums.

    The sums restricted to hidden cells form a linear system ``A x = b`` (``b`` from
    the published cells). A hidden cell is determined exactly when no vector of the
    null space of ``A`` moves it. Independent groups of sums are solved separately,
    so the matrices stay the size of one group of linked tables.
    """
    hidden = set(hidden)
    systems = [r for r in relations if any(c in hidden for c in r.cells)]
    if not systems:
        return set()
    parent: dict[Key, Key] = {}  # union-find: two hidden cells are linked by a sum

    def find(x: Key) -> Key:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for relation in systems:
        unknowns = [c for c in relation.cells if c in hidden]
        for other in unknowns[1:]:
            parent[find(other)] = find(unknowns[0])
        find(unknowns[0])
    groups: dict[Key, list[Relation]] = {}
    for relation in systems:
        first = next(c for c in relation.cells if c in hidden)
        groups.setdefault(find(first), []).append(relation)
    result: set[Key] = set()
    for group in groups.values():
        result |= _determined(group, hidden)
    return result


def _determined(relations: list[Relation], hidden: set[Key]) -> set[Key]:
    import numpy as np  # only public figures need it; it adds 0.1 s to every start

    unknowns: dict[Key, int] = {}
    for relation in relations:
        for cell in relation.cells:
            if cell in hidden and cell not in unknowns:
                unknowns[cell] = len(unknowns)
    matrix = np.zeros((len(relations), len(unknowns)))
    for i, relation in enumerate(relations):
        if relation.total in unknowns:
            matrix[i, unknowns[relation.total]] -= 1.0
        for part in relation.parts:
            if part in unknowns:
                matrix[i, unknowns[part]] += 1.0
    _, singular, vt = np.linalg.svd(matrix, full_matrices=True)
    tolerance = max(matrix.shape) * np.finfo(float).eps * (singular.max() if singular.size else 0)
    rank = int((singular > tolerance).sum())
    null_space = vt[rank:]
    if not len(null_space):
        return set(unknowns)
    # A cell that no null-space vector moves is fixed by the sums.
    movable = np.abs(null_space).max(axis=0) > 1e-9
    return {cell for cell, j in unknowns.items() if not bool(movable[j])}
