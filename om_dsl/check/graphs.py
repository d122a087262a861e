"""Cycle finding for the checker's graphs (decomposition, task dependencies)."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Mapping, Sequence


def find_cycles(edges: Mapping[Hashable, Sequence[tuple[Hashable, object]]]) -> list[list[tuple]]:
    """One cycle per strongly connected component that has one.

    `edges[node]` lists `(successor, label)`. A cycle is returned as a list of
    `(from, to, label)` steps; nodes and steps are visited in sorted order, so
    the same graph always gives the same cycles.
    """
    nodes = sorted(set(edges) | {dst for outs in edges.values() for dst, _ in outs}, key=repr)
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    components: list[list] = []
    counter = [0]

    def succ(n):
        return sorted(edges.get(n, ()), key=lambda e: repr(e[0]))

    # Iterative Tarjan: specs can be large, recursion limits are not ours to hit.
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succ(root)))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for dst, _ in it:
                if dst not in index:
                    index[dst] = low[dst] = counter[0]
                    counter[0] += 1
                    stack.append(dst)
                    on_stack.add(dst)
                    work.append((dst, iter(succ(dst))))
                    advanced = True
                    break
                if dst in on_stack:
                    low[node] = min(low[node], index[dst])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    component.append(n)
                    if n == node:
                        break
                components.append(component)

    cycles = []
    for component in components:
        members = set(component)
        start = min(component, key=repr)
        self_loop = [(d, lbl) for d, lbl in succ(start) if d == start]
        if len(component) == 1 and not self_loop:
            continue
        if self_loop:
            cycles.append([(start, start, self_loop[0][1])])
            continue
        # Breadth-first from `start` back to `start` inside the component: a shortest cycle.
        parents: dict = {start: None}
        queue = deque([start])
        found = None
        while queue and found is None:
            n = queue.popleft()
            for dst, lbl in succ(n):
                if dst not in members:
                    continue
                if dst == start:
                    found = (n, lbl)
                    break
                if dst not in parents:
                    parents[dst] = (n, lbl)
                    queue.append(dst)
        if found is None:
            continue
        steps = [(found[0], start, found[1])]
        n = found[0]
        while parents[n] is not None:
            prev, lbl = parents[n]
            steps.append((prev, n, lbl))
            n = prev
        steps.reverse()
        cycles.append(steps)
    cycles.sort(key=lambda c: repr(c[0][0]))
    return cycles
