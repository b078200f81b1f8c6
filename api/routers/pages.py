"""The officer page: a city's sources, their last runs with links to the full reports, and the quarantine.

Server-rendered with jinja2 (autoescaped), no scripts. A page needs a key: a bearer key, or the login form's
cookie, which holds the key itself (HttpOnly, SameSite=Strict, Secure on an https hub) and so stops working the
moment the key is revoked or expires — there is no second session store to forget. Every page carries a
Content-Security-Policy that allows no scripts at all, ``frame-ancestors 'none'`` and ``nosniff``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.auth import SESSION_COOKIE, page_token
from api.state import HubState, hub_state
from harvester import store as runs
from harvester.store import ItemStatus
from hub import auth, officers
from hub.auth import Principal

router = APIRouter(prefix="/pages", tags=["officer pages"], include_in_schema=False)
State = Annotated[HubState, Depends(hub_state)]
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
RUNS_SHOWN = 5
QUARANTINE_SHOWN = 20
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def viewer(request: Request, state: State) -> Principal | None:
    """The page's viewer, or None — then the page sends the login form (a revoked key lands there too)."""
    token = page_token(request)
    return None if token is None else _authenticate(state, token)


def _authenticate(state: HubState, token: str) -> Principal | None:
    with state.db.connect() as conn:
        return auth.authenticate(conn, token, now=datetime.now(UTC))


Viewer = Annotated[Principal | None, Depends(viewer)]


def environment() -> Environment:
    """The templates of the pages, autoescaped (built by ``create_app``)."""
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    env = request.app.state.templates
    assert isinstance(env, Environment)
    html = env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _to(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


@router.get("/officer.css")
def stylesheet() -> Response:
    css = (TEMPLATES / "officer.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={**SECURITY_HEADERS, "Cache-Control": "max-age=3600"})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _page(request, "login.html", who=None, error=None)


@router.post("/login")
async def login(request: Request, state: State) -> Response:
    """Check the key and keep it in the session cookie; a bad key gets the form again with a 401."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("key") or [""])[0].strip()
    who = _authenticate(state, token) if token else None
    if who is None:
        return _page(request, "login.html", 401, who=None, error="That key is unknown, revoked or expired.")
    response = _to(f"/pages/cities/{who.city}" if who.city else "/pages/")
    secure = state.settings.base_url.startswith("https://")
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/")
    return response


@router.post("/logout")
def logout() -> Response:
    response = _to("/pages/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, state: State, who: Viewer) -> Response:
    if who is None:
        return _to("/pages/login")
    if who.city:
        return _to(f"/pages/cities/{who.city}")
    message = "Choose a city."
    return _page(request, "message.html", who=who, heading="Cities", message=message, cities=state.registry.cities)


@router.get("/cities/{city}", response_class=HTMLResponse)
def city_page(request: Request, state: State, city: str, who: Viewer) -> Response:
    if who is None:
        return _to("/pages/login")
    if not who.may_manage(city):
        message = f"This key is for city {who.city!r} and may not see city {city!r}."
        return _page(request, "message.html", 403, who=who, heading="Forbidden", message=message, cities=[])
    try:
        member = state.registry.city(city)
    except KeyError:
        message = f"There is no member city {city!r}."
        return _page(request, "message.html", 404, who=who, heading="Not found", message=message, cities=[])
    sources = _sources(state, city)
    with state.db.connect() as conn:
        last = {s["id"]: runs.list_runs(conn, source_id=s["id"], limit=RUNS_SHOWN) for s in sources}
        quarantine = [
            {"source": source_id, "run": found[0]["id"], "item": item}
            for source_id, found in last.items()
            if found
            for item in runs.list_items(conn, found[0]["id"], state=ItemStatus.INVALID, limit=QUARANTINE_SHOWN)
        ]
    context: dict[str, Any] = {
        "city": member,
        "sources": sources,
        "runs": last,
        "quarantine": quarantine,
        "shown": QUARANTINE_SHOWN,
    }
    return _page(request, "city.html", who=who, **context)


def _sources(state: HubState, city: str) -> list[dict[str, Any]]:
    """The city's sources as the page lists them: cities.toml ones, then registrations with their status."""
    with state.db.connect() as conn:
        registered = {r.source.id: r for r in officers.list_registrations(conn, city=city)}
    listed = []
    for c, source in state.registry.sources():
        if c.id != city:
            continue
        reg = registered.get(source.id)
        status = reg.status.value if reg else ("live" if source.enabled else "off")
        listed.append(
            {
                "id": source.id,
                "kind": source.kind.value,
                "url": source.url,
                "schedule": source.schedule.text,
                "origin": "api" if reg else "cities.toml",
                "status": status,
            }
        )
    return listed
