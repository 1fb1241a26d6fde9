"""Guards on status transitions, registered by the apps above `tickets`.

A guard is asked before a transition runs, with the (locked) ticket, the transition's name
and whether the customer's contact asks (the portal: the reason is worded for them), and
answers with the reason to refuse it or None. The closing-report rule of `lessons`
registers here (in its `AppConfig.ready`), so `tickets/` does not import it and every path
through `ticket_transition` and `ticket_transition_by_contact` refuses the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from django_fsm import TransitionNotAllowed

from tickets.models import Ticket

TransitionGuard = Callable[[Ticket, str, bool], str | None]
_guards: list[TransitionGuard] = []


def register_transition_guard(guard: TransitionGuard) -> None:
    """Ask `guard` before every status transition. Idempotent per guard."""
    if guard not in _guards:
        _guards.append(guard)


def check_transition(ticket: Ticket, name: str, *, by_contact: bool = False) -> None:
    """Raise TransitionNotAllowed with the first registered guard's reason, if any refuses."""
    for guard in _guards:
        reason = guard(ticket, name, by_contact)
        if reason:
            raise TransitionNotAllowed(reason)
