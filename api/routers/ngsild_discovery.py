"""NGSI-LD discovery endpoints: ``/types``, ``/attributes`` and ``/info/sourceIdentity``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD discovery"])
