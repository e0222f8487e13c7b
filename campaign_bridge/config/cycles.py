"""Rule cycles: rule A fills the container rule B reads, B fills the one A reads. Refused, once per loop.

The graph's nodes are containers and its edges are rules (source → target), so a loop of rules is a
cycle of the graph, and the rules of one strongly connected component are one tangle to undo however
many cycles it holds. A tangle of n rules can hold exponentially many cycles (8 rules A → B and 8
rules B → A hold billions), and listing each is what made ``validate`` run for minutes; Tarjan's
algorithm finds the tangles in time linear in the rules, and each is reported once, by its shortest
cycle through its first rule, with the other rules of the tangle named.

Which containers are the same? A rule names a container by id or by name, and the systems prefer an
id match. Offline, ``to: {list: "12"}`` and ``from: {list: Nurture}`` cannot be known to be one list:
only the system can tie an id to a name, so ``offline_identity`` does not try. What it can do, it
does: an id that has several spellings is reduced to one (a Salesforce id of 18 characters is the same
record as its first 15). The live check should call ``rule_cycles`` again with an identity that
resolves each endpoint to its container's id (``sync/live.py``), which catches the rest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from campaign_bridge.config.models import Endpoint, Rule

Identity = Callable[[Endpoint], Hashable]


@dataclass(frozen=True, slots=True)
class Loop:
    """One tangle of rules feeding each other: ``cycle`` runs from its first rule back to it (positions
    in the rules given, first one repeated at the end); ``others`` are the tangle's other rules."""

    cycle: tuple[int, ...]
    others: tuple[int, ...]


def cycle_message(loop: Loop, names: Sequence[str]) -> str:
    """How a tangle is reported, offline and live alike; ``names`` are the names of the rules given."""
    shown = " → ".join(names[p] for p in loop.cycle)
    message = f"rule cycle: {shown} (each rule feeds the next one's source; break the loop)"
    if loop.others:
        message += f"; also in this loop: {', '.join(names[p] for p in loop.others)}"
    return message


def offline_identity(systems: dict[str, str]) -> Identity:
    """Identify an endpoint's container from the file alone; ``systems`` maps connection → system type."""

    def identity(endpoint: Endpoint) -> Hashable:
        ref = endpoint.container_name
        if systems.get(endpoint.connection) == "salesforce":
            ref = _salesforce_id15(ref)
        return (endpoint.connection, endpoint.key, ref)

    return identity


def rule_cycles(rules: Sequence[Rule], identity: Identity) -> list[Loop]:
    """Every tangle of rules that feed each other, once, in the order of their first rule.

    A rule that reads and writes one container is left out (the caller reports that on its own), as are
    segment sources, which are filters, not containers another rule can fill. (A segment target, refused
    on its own, then ends every path that reaches it: no rule here reads a segment.)
    """
    node_of: dict[Hashable, int] = {}
    edges: list[tuple[int, int, int]] = []  # (rule position, source node, target node)
    for position, rule in enumerate(rules):
        if rule.source.key == "segment":
            continue
        source = node_of.setdefault(identity(rule.source), len(node_of))
        target = node_of.setdefault(identity(rule.target), len(node_of))
        if source != target:
            edges.append((position, source, target))
    out_edges: list[list[tuple[int, int]]] = [[] for _ in node_of]
    for position, source, target in edges:
        out_edges[source].append((position, target))
    component = _strongly_connected(out_edges)
    tangles: dict[int, list[tuple[int, int, int]]] = {}
    for edge in edges:
        _, source, target = edge
        if component[source] == component[target]:
            tangles.setdefault(component[source], []).append(edge)
    loops = [_loop(tangle) for tangle in tangles.values()]
    return sorted(loops, key=lambda loop: loop.cycle[0])


def _loop(tangle: list[tuple[int, int, int]]) -> Loop:
    """The shortest cycle through the tangle's first rule (breadth first from its target to its source)."""
    first, start, goal = min(tangle)
    out: dict[int, list[tuple[int, int]]] = {}
    for position, source, target in tangle:
        out.setdefault(source, []).append((position, target))
    came_by: dict[int, tuple[int, int]] = {}  # node → (rule position, previous node)
    queue = deque([goal])
    seen = {goal}
    while start not in seen:  # a tangle is strongly connected: the search reaches ``start``
        node = queue.popleft()
        for position, target in out.get(node, ()):
            if target not in seen:
                seen.add(target)
                came_by[target] = (position, node)
                queue.append(target)
    path: list[int] = []
    node = start
    while node != goal:
        position, node = came_by[node]
        path.append(position)
    cycle = (first, *reversed(path), first)
    return Loop(cycle, tuple(sorted({p for p, _, _ in tangle} - set(cycle))))


def _strongly_connected(out_edges: list[list[tuple[int, int]]]) -> list[int]:
    """Tarjan's algorithm, iterative (hundreds of rules in a chain would pass Python's recursion limit):
    the component number of each node."""
    count = len(out_edges)
    index, low, component = [-1] * count, [0] * count, [-1] * count
    on_stack = [False] * count
    stack: list[int] = []
    counter = components = 0
    for root in range(count):
        if index[root] != -1:
            continue
        work = [(root, 0)]  # (node, next edge to follow): the recursion's frames
        while work:
            node, next_edge = work.pop()
            if next_edge == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            descended = False
            for i in range(next_edge, len(out_edges[node])):
                child = out_edges[node][i][1]
                if index[child] == -1:
                    work += [(node, i + 1), (child, 0)]
                    descended = True
                    break
                if on_stack[child]:
                    low[node] = min(low[node], index[child])
            if descended:
                continue
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    component[member] = components
                    if member == node:
                        break
                components += 1
            if work:  # back in the parent's frame: carry the lowest index reached up
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return component


_SALESFORCE_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _salesforce_id15(ref: str) -> str:
    """The 15-character form of an 18-character Salesforce id; any other reference as written.

    The last three characters of an 18-character id encode which of the first 15 are capitals, five
    at a time; only a reference whose suffix checks is taken for an id, so a campaign *named* with 18
    letters and digits keeps its name. (This belongs with the Salesforce connector, as a class-level
    "canonical reference"; it is here until the connector contract has one.)
    """
    if len(ref) != 18 or not (ref.isascii() and ref.isalnum()):
        return ref
    suffix = ""
    for chunk in (ref[0:5], ref[5:10], ref[10:15]):
        bits = sum(1 << i for i, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _SALESFORCE_CHECKSUM[bits]
    return ref[:15] if ref[15:].upper() == suffix else ref
