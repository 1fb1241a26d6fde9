"""Impact, urgency and priority, and the one function that derives priority from the two.

The configurable severity matrix (`sla.SeverityMatrix`) overrides the default grid below;
`derive_priority` is the only place that looks either up.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import models
from django.utils.translation import gettext_lazy as _


class Impact(models.IntegerChoices):
    EXTENSIVE = 1, _("Extensive: outage, many customers")
    SIGNIFICANT = 2, _("Significant: restrictions for many customers")
    MODERATE = 3, _("Moderate: single customers, workaround exists")
    MINOR = 4, _("Minor: cosmetic, minimal impact")


class Urgency(models.IntegerChoices):
    CRITICAL = 1, _("Critical")
    HIGH = 2, _("High")
    MEDIUM = 3, _("Medium")
    LOW = 4, _("Low")


class Priority(models.IntegerChoices):
    """Severity levels of the source documents' matrix (Sev 1 is the most severe)."""

    CRITICAL = 1, _("Sev 1 · critical")
    HIGH = 2, _("Sev 2 · high")
    MEDIUM = 3, _("Sev 3 · medium")
    LOW = 4, _("Sev 4 · low")


# Rows: impact 1..4, columns: urgency 1..4. An outage that is critically urgent is Sev 1;
# cosmetic and not urgent is Sev 4; the grid falls off evenly in between (ITIL style).
DEFAULT_MATRIX: Mapping[tuple[int, int], int] = {
    (impact, urgency): priority
    for impact, row in enumerate(
        (
            (1, 1, 2, 3),
            (1, 2, 3, 3),
            (2, 3, 3, 4),
            (3, 3, 4, 4),
        ),
        start=1,
    )
    for urgency, priority in enumerate(row, start=1)
}


def derive_priority(
    impact: int, urgency: int, matrix: Mapping[tuple[int, int], int] | None = None
) -> int:
    """The priority for `impact` × `urgency`, from `matrix` or, without one, the default grid.

    Raises ValueError for an impact or urgency outside 1..4.
    """
    grid = DEFAULT_MATRIX if matrix is None else matrix
    try:
        return grid[(int(impact), int(urgency))]
    except KeyError:
        raise ValueError(f"No priority for impact {impact} and urgency {urgency}.") from None
