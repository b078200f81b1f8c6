"""The one shape of a validation or transformation finding, used everywhere findings are stored or shown."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"  # the record cannot be published as it is: quarantined
    WARNING = "warning"  # published, possibly with a coerced value; the source should fix it
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """What is wrong, where (a JSON pointer into the source payload) and how bad.

    ``normalized`` is the value the hub used instead of the one at ``pointer`` when it could repair it safely
    (a naive timestamp read in a known zone, an enum in the wrong case); None when nothing was repaired.
    """

    rule: str
    severity: Severity
    pointer: str
    message: str
    normalized: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data; ``normalized`` only when there is one (stored findings keep their shape)."""
        data = asdict(self)
        if self.normalized is None:
            del data["normalized"]
        return data


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
