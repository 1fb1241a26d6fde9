"""Imports point one way: `tickets` at the bottom, `sla`, `escalation` and `notifications`
above it; and no module reaches for another module's private (`_underscore`) names.

Read from the source with `ast`, so imports inside functions count as much as those at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = {
    "tickets",
    "sla",
    "escalation",
    "notifications",
    "reporting",
    "helpdesk",
    "knowledge",
    "mail",
    "dashboard",
    "integrations",
    "api",
    "portal",
    "incidents",
    "lessons",
    "lab",
    "monitoring",
}
# `lessons` sits at the top with `incidents`: it reads escalations and incidents and plugs into
# the ticket services through `tickets.guards` and the change hooks.
ABOVE_TICKETS = {"sla", "escalation", "notifications", "mail", "lessons"}
# Pages of the tickets app that show the SLA clocks, escalations and reply templates next to
# the ticket: read-side composition in the entry points, not the domain. Exact: a module that
# starts importing upwards fails, and one that stops must leave this list.
TICKETS_PAGES = {
    "tickets/selectors.py",
    "tickets/views.py",
    "tickets/templatetags/tickets_ui.py",
    "tickets/templatetags/timeline_ui.py",
}
# Checked for private-name imports: every package of ours.
PRIVATE_NAME_PACKAGES = sorted(PROJECT_PACKAGES)


def modules(package: str) -> list[Path]:
    return sorted(
        p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.relative_to(ROOT).parts
    )


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, this: str) -> set[str]:
    """Every module `tree` imports, at any depth (relative imports resolved)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node, this)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def resolve(node: ast.ImportFrom, this: str) -> str:
    if not node.level:
        return node.module or ""
    package = this.split(".")[: -node.level] if node.level else []
    return ".".join([*package, *([node.module] if node.module else [])])


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def private_imports(source: str, this: str) -> list[str]:
    """`from <project module> import _name` and `<project module>._name`, in the module
    `this` (whose own private names are its own business)."""
    tree = ast.parse(source)
    found: list[str] = []
    aliases: dict[str, str] = {}  # local name -> project module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = resolve(node, this)
            if base.split(".")[0] not in PROJECT_PACKAGES or base == this:
                continue
            for alias in node.names:
                if is_private(alias.name):
                    found.append(f"{this}:{node.lineno} imports {base}.{alias.name}")
                elif is_module(f"{base}.{alias.name}"):
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT_PACKAGES and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and aliases[node.value.id] != this
            and is_private(node.attr)
        ):
            found.append(f"{this}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    return found


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def upward_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        name
        for name in imported_modules(tree, module_name(path))
        if name.split(".")[0] in ABOVE_TICKETS
    }


@pytest.mark.parametrize("path", modules("tickets"), ids=lambda p: str(p.relative_to(ROOT)))
def test_tickets_imports_nothing_above_it(path):
    relative = str(path.relative_to(ROOT))
    if relative in TICKETS_PAGES:
        assert upward_imports(path), f"{relative} no longer imports upwards: drop it from the list"
    else:
        assert upward_imports(path) == set()


def test_the_checks_see_function_level_and_private_imports():
    # The checker itself, on made-up sources: it must see what the rules forbid.
    source = "def f():\n    from sla.services import active_severity_matrix\n"
    assert "sla.services" in imported_modules(ast.parse(source), "tickets.services")
    source = (
        "from notifications.outbox import _attempt\n"
        "from tickets import services\n"
        "from tickets.models import Ticket\n"
        "def f():\n"
        "    services._lock(Ticket._meta)\n"
    )
    assert private_imports(source, "sla.services") == [
        "sla.services:1 imports notifications.outbox._attempt",
        "sla.services:5 uses tickets.services._lock",
    ]
    assert private_imports("from tickets.services import _lock\n", "tickets.services") == []


@pytest.mark.parametrize(
    "path",
    [p for package in PRIVATE_NAME_PACKAGES for p in modules(package)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_module_imports_another_modules_private_names(path):
    assert private_imports(path.read_text(), module_name(path)) == []


def import_graph(packages: list[str]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (at any depth), within `packages`."""
    names = {module_name(p): p for package in packages for p in modules(package)}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        imported = imported_modules(ast.parse(path.read_text()), name)
        graph[name] = {m for m in imported if m in names and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of `graph` (one path per strongly connected group)."""
    found, index, low, stack, on_stack = [], {}, {}, [], set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    # outbox <-> tasks and sla.services <-> tickets.services were circles; escalation/ joins
    # this check once its restructuring has landed.
    assert cycles(import_graph(PRIVATE_NAME_PACKAGES)) == []
