"""JSON-LD @context constants and Link headers of the NGSI-LD API."""

from __future__ import annotations

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"  # the core context's @vocab


def context_link(url: str = CORE_CONTEXT) -> str:
    """The ``Link`` header value that carries an @context with ``application/json`` responses."""
    return f'<{url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'
