"""`mutmut` (the pinned 3.8.1) that also mutates the functions decorated with a bare
`@transaction.atomic`: the services' use cases (`escalation_raise`, `escalation_acknowledge`,
`escalation_deescalate`, `sla_recompute`). The Makefile's mutation targets run it in place of
`mutmut`: `python tools/mutmut_atomic.py run …`; every other command is mutmut's own.

mutmut leaves every decorated function alone (`MutationVisitor._skip_node_and_children`): a
decorator runs when the function is defined, and copying it for the trampoline can have side
effects. A bare `transaction.atomic` has neither, so a function whose only decorator it is
gets mutated here: the trampoline (the name callers see) keeps the decorator, while the copy
of the original and the mutants, only ever called through the trampoline, lose it. The code
under test then opens exactly the transactions it opens unmutated (no extra savepoint in a
test's query count). Reaches into mutmut's internals, hence the version check.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import version

import libcst as cst
import libcst.matchers as m
from libcst.metadata import PositionProvider
from mutmut.__main__ import cli
from mutmut.mutation import file_mutation

MUTMUT = "3.8.1"  # the internals patched below are this version's
ATOMIC = m.Decorator(decorator=m.Attribute(value=m.Name("transaction"), attr=m.Name("atomic")))


def atomic_only(node: cst.CSTNode) -> bool:
    """A function whose one decorator is a bare `@transaction.atomic`."""
    return (
        isinstance(node, cst.FunctionDef)
        and len(node.decorators) == 1
        and m.matches(node.decorators[0], ATOMIC)
    )


skip = file_mutation.MutationVisitor._skip_node_and_children
arrange = file_mutation.function_trampoline_arrangement


def skip_but_atomic(self: file_mutation.MutationVisitor, node: cst.CSTNode) -> bool:
    if not atomic_only(node):
        return skip(self, node)
    position = self.get_metadata(PositionProvider, node, None)
    # `# pragma: no mutate` on the `def` line still leaves the function alone.
    if position and position.start.line in self._ignored_node_lines:
        self.ignored_functions.add(node.name.value)
        return True
    return False


def arrange_atomic(
    function: cst.FunctionDef, mutants: Iterable[file_mutation.Mutation], class_name: str | None
) -> tuple[Sequence[cst.CSTNode], Sequence[cst.CSTNode], Sequence[cst.CSTNode], Sequence[str]]:
    declarations, methods, assignments, names = arrange(function, mutants, class_name)
    if atomic_only(function):
        trampoline, *copies = methods
        methods = [trampoline, *(copy.with_changes(decorators=[]) for copy in copies)]
    return declarations, methods, assignments, names


file_mutation.MutationVisitor._skip_node_and_children = skip_but_atomic
file_mutation.function_trampoline_arrangement = arrange_atomic

if __name__ == "__main__":
    if version("mutmut") != MUTMUT:
        sys.exit(f"tools/mutmut_atomic.py patches mutmut {MUTMUT}, not {version('mutmut')}")
    sys.exit(cli())
