"""Catalogue search at 100,000 datasets: p50/p95 of a ranked two-word query with facets (goal: p50 ≤ 10 ms).

The datasets are generated: Nordic titles of 62 topics in four languages, a city of the registry, a description
from a Zipf-distributed vocabulary of 3,000 words, keywords, one or two EU themes, one to three formats and a
licence. Each query runs ``catalog.search.search`` (the page of 20 best plus the total and six facets: city,
country, theme, format, licence, quality band) and is printed beside the floor measured on the same database: the
plain ranked full-text query alone (FTS5 ``ORDER BY rank LIMIT 20``, or ``ts_rank`` over the GIN match).

Run alone: ``python -m bench.search [postgresql+psycopg://…]``.
"""

from __future__ import annotations

import functools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, text

from catalog.model import Dataset, Distribution
from catalog.search import SearchQuery, index_datasets, search
from hub.cities import load_cities
from hub.db import Database

ROOT = Path(__file__).resolve().parents[1]
DATASETS = 100_000
BATCH = 5_000
RUNS = 200
QUERIES = ("parkering oslo", "luftkvalitet data", "trafikk sykkel")  # ~300, ~1,200 and ~150 matches
GOAL_MS = 10.0
EU = "http://publications.europa.eu/resource/authority/"
THEMES = ("TRAN", "ENVI", "SOCI", "EDUC", "GOVE", "REGI", "HEAL", "ECON", "ENER", "AGRI")
FORMATS = ("CSV", "JSON", "GEOJSON", "XLSX", "XML", "PDF")
LICENCES = ("http://data.norge.no/nlod/no/2.0", "cc-by", "cc-zero", "odc-odbl", "other-open")
STEMS = (
    "parkering",
    "trafikk",
    "sykkel",
    "buss",
    "trikk",
    "luftkvalitet",
    "støy",
    "vann",
    "avfall",
    "gjenvinning",
    "skole",
    "barnehage",
    "bibliotek",
    "befolkning",
    "budsjett",
    "regnskap",
    "eiendom",
    "byggesak",
    "plan",
    "adresse",
    "bydel",
    "kart",
    "turløype",
    "park",
    "idrett",
    "helse",
    "energi",
    "vær",
    "nedbør",
    "temperatur",
    "snø",
    "brøyting",
    "veiarbeid",
    "lading",
    "elbil",
    "kollektiv",
    "billett",
    "rute",
    "holdeplass",
    "stasjon",
    "havn",
    "ferje",
    "båt",
    "taxi",
    "gate",
    "fortau",
    "lys",
    "tre",
    "grønt",
    "strand",
    "bad",
    "kultur",
    "museum",
    "konsert",
    "turisme",
    "hotell",
    "næring",
    "arbeid",
    "valg",
    "politikk",
    "innsyn",
    "journal",
)
LANGUAGE_WORDS = {  # a suffix or translation per language, so the four languages index different words
    "nb": ("", "data", "oversikt", "register"),
    "da": ("", "data", "oversigt", "register"),
    "sv": ("", "data", "översikt", "register"),
    "en": ("", "data", "overview", "register"),
}


def vocabulary(rng: random.Random, size: int = 3_000) -> list[str]:
    letters = "abcdefghijklmnoprstuvyæøå"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)]


def datasets(n: int, cities: list[str], seed: int = 7) -> Iterator[tuple[str, str, Dataset]]:
    """``n`` generated (uri, city id, dataset) triples, the same for the same seed."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf: a few words are everywhere
    start = datetime(2018, 1, 1, tzinfo=UTC)
    for i in range(n):
        city, stem = rng.choice(cities), rng.choice(STEMS)
        lang = rng.choice(tuple(LANGUAGE_WORDS))
        title = f"{stem.capitalize()} {rng.choice(LANGUAGE_WORDS[lang])} {city.capitalize()}".replace("  ", " ")
        body = " ".join(rng.choices(words, weights, k=rng.randint(10, 30)))
        uri = f"https://data.{city}.example/datasets/{stem}-{i}"
        formats = rng.sample(FORMATS, rng.randint(1, 3))
        yield (
            uri,
            city,
            Dataset(
                uri=uri,
                title={lang: title},
                description={lang: f"{title}. {body}."},
                keywords={lang: [stem, *rng.sample(STEMS, 2)]},
                themes=[EU + "data-theme/" + t for t in rng.sample(THEMES, rng.randint(1, 2))],
                licence=rng.choice(LICENCES),
                modified=(start + timedelta(minutes=rng.randrange(4_000_000))).isoformat(),
                distributions=[Distribution(access_url=f"{uri}/{f.lower()}", format=f) for f in formats],
            ),
        )


def build(db: Database, cities: list[str], n: int) -> float:
    """Index ``n`` datasets into an empty index; seconds taken."""
    with db.begin() as conn:
        conn.execute(text("DELETE FROM catalog_search_facets"))
        conn.execute(text("DELETE FROM catalog_search"))
    started = time.perf_counter()
    batch: list[tuple[str, str, Dataset]] = []
    for item in datasets(n, cities):
        batch.append(item)
        if len(batch) == BATCH:
            with db.begin() as conn:
                index_datasets(conn, batch, now=datetime.now(UTC))
            batch = []
    if batch:
        with db.begin() as conn:
            index_datasets(conn, batch, now=datetime.now(UTC))
    with db.connect() as conn:  # what autovacuum would have done by the time anyone searches
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM ANALYZE" if db.dialect == "postgresql" else "ANALYZE"))
    return time.perf_counter() - started


def timed(call: Callable[[], object], runs: int = RUNS) -> tuple[float, float]:
    """p50 and p95 in milliseconds, after a few warm-up calls."""
    for _ in range(5):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def plain_ranked(conn: Connection, query: str) -> Callable[[], object]:
    """The floor: the ranked full-text query alone, top 20 ids."""
    terms = query.split()
    if conn.dialect.name == "postgresql":
        sql = text(
            "SELECT id, ts_rank(search_vector, q) AS r FROM catalog_search, plainto_tsquery('simple', :q) q "
            "WHERE search_vector @@ q ORDER BY r DESC LIMIT 20"
        )
        params = {"q": query}
    else:
        fts = "fts_catalog_search"
        sql = text(f"SELECT rowid, rank FROM {fts} WHERE {fts} MATCH :q ORDER BY rank LIMIT 20")
        params = {"q": " ".join(f'"{t}"' for t in terms)}
    return lambda: conn.execute(sql, params).all()


def run(url: str, label: str, n: int = DATASETS) -> None:
    db = Database(url)
    db.upgrade()
    registry = load_cities(ROOT / "cities.toml")
    countries = {c.id: c.country for c in registry.cities}
    seconds = build(db, sorted(countries), n)
    print(f"[{label}] catalogue search, {n:,} datasets (indexed in {seconds:.0f} s):")
    with db.connect() as conn:
        for query in QUERIES:
            search_query = SearchQuery(text=query, countries=countries)
            total = search(conn, search_query).total
            p50, p95 = timed(functools.partial(search, conn, search_query))
            f50, f95 = timed(plain_ranked(conn, query))
            goal = "goal met" if p50 <= GOAL_MS else f"GOAL MISSED (p50 > {GOAL_MS:.0f} ms)"
            print(
                f"    {query!r:<22} {total:>6,} matches  search + 6 facets p50 {p50:5.1f} ms  p95 {p95:5.1f} ms"
                f"   plain ranked p50 {f50:4.1f} ms  p95 {f95:4.1f} ms   {goal}"
            )
    db.dispose()


def main(pg_url: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'search.db'}", "sqlite")
    if pg_url:
        run(pg_url, "postgresql")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
