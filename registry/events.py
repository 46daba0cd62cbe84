"""Events the registry declares (see common.events): what changed, for whoever must react.

Declared here, the lowest layer whose services publish them; explainability handles them.
"""

from __future__ import annotations

from common import events

#: A model version entered production (key: the version's id). Its training data becomes the
#: reference of the scheduled drift checks, whose sorted profile explainability prepares ahead
#: of the first check after the change commits.
VERSION_IN_PRODUCTION = events.declare(
    "registry.version.in_production",
    "A model version entered production; key: the version's id.",
)
