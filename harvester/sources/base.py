"""The interface every source kind implements, and the records it hands to the run orchestration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from catalog.model import Dataset
from harvester.http import HttpClient
from hub.cities import City, Source, SourceKind
from schemas.findings import Finding


@dataclass(slots=True)
class Record:
    """One record of a source: its id, what it became and what was found.

    A record becomes an NGSI-LD ``entity`` (context sources) or a catalogue ``dataset`` (catalogue sources); when it
    could not be transformed both are None and ``findings`` say why — it is quarantined, never dropped.
    """

    record_id: str
    entity: dict[str, Any] | None
    findings: list[Finding] = field(default_factory=list)
    dataset: Dataset | None = None

    @property
    def usable(self) -> bool:
        return self.entity is not None or self.dataset is not None


@dataclass(slots=True)
class HarvestBatch:
    """Everything one fetch of a source produced."""

    records: list[Record]
    bytes: int = 0
    findings: list[Finding] = field(default_factory=list)  # about the payload as a whole, not one record
    complete: bool = True  # every record of the source was listed (a full run): absent ones may be marked removed
    documents: dict[str, Any] = field(default_factory=dict)  # parsed feed files the run validates as a whole (GBFS)
    ttl: int | None = None  # seconds the producer says its data stays fresh (GBFS): the scheduler's polling pace


class SourceAdapter(Protocol):
    """A source kind. ``harvest`` fetches and transforms; it never touches the database."""

    kind: ClassVar[SourceKind]

    async def harvest(self, client: HttpClient, city: City, source: Source) -> HarvestBatch:
        """Fetch the source and transform every record it offers.

        Raises a ``hub.errors.HarvestError`` subclass when the source as a whole cannot be read; a record that
        cannot be transformed is returned with ``entity=None`` and an error finding, never dropped.
        """
        ...
