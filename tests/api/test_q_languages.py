"""q on a LanguageProperty: name[lang] for one language, name[*] (or the bare name) for any (clause 4.9)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]
ENTITIES = "/ngsi-ld/v1/entities"


@pytest.fixture
async def squares(api: httpx.AsyncClient) -> None:
    for n, names in enumerate(({"nb": "Rådhusplassen", "en": "City Hall Square"}, {"nb": "Torget", "en": "Market"})):
        body = {
            "id": f"urn:ngsi-ld:Square:{n}",
            "type": "Square",
            "street": {"type": "LanguageProperty", "languageMap": names},
        }
        assert (await api.post(ENTITIES, json=body)).status_code == 201


async def _ids(api: httpx.AsyncClient, q: str) -> list[str]:
    response = await api.get(ENTITIES, params={"type": "Square", "q": q})
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


async def test_any_language_and_one_language(api: httpx.AsyncClient, squares: None) -> None:
    assert await _ids(api, 'street[*]=="City Hall Square"') == ["urn:ngsi-ld:Square:0"]
    assert await _ids(api, 'street[*]=="Torget"') == ["urn:ngsi-ld:Square:1"]
    assert await _ids(api, 'street[en]=="Torget"') == []
    assert await _ids(api, 'street[nb]=="Torget"') == ["urn:ngsi-ld:Square:1"]
    assert await _ids(api, 'street[*]~="(?i)^market"') == ["urn:ngsi-ld:Square:1"]
    assert await _ids(api, 'street[*]!="Market"') == ["urn:ngsi-ld:Square:0"]
