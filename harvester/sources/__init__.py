"""Source kinds: one adapter per kind, registered in ``ADAPTERS`` and nowhere else."""

from __future__ import annotations

from harvester.sources.base import SourceAdapter
from harvester.sources.ckan import CkanAdapter
from harvester.sources.datastore import DatastoreAdapter
from harvester.sources.dcat import DcatAdapter
from harvester.sources.gbfs import GbfsAdapter
from harvester.sources.ngsild import NgsiLdAdapter
from hub.cities import SourceKind

ADAPTERS: dict[SourceKind, SourceAdapter] = {
    SourceKind.GBFS: GbfsAdapter(),
    SourceKind.DCAT: DcatAdapter(),
    SourceKind.CKAN: CkanAdapter(),
    SourceKind.NGSILD: NgsiLdAdapter(),
    SourceKind.DATASTORE: DatastoreAdapter(),
}


def adapter_for(kind: SourceKind) -> SourceAdapter | None:
    """The adapter of a source kind, or None when this version of the hub cannot harvest that kind yet."""
    return ADAPTERS.get(kind)
