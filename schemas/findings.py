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
    """What is wrong, where (a JSON pointer into the source payload) and how bad."""

    rule: str
    severity: Severity
    pointer: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
