"""The catalogue's search index (catalog.search_tables): documents, facet rows, and the full-text index kept by
triggers — an FTS5 table with external content on SQLite, a weighted ``tsvector`` with a GIN index on PostgreSQL.
Datasets already in the catalogue are indexed here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

from catalog.search import index_datasets
from catalog.store import dataset_from_json
from hub.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FOLDED = ("title_folded", "keywords_folded", "text_folded")

SQLITE_UP = (
    "CREATE VIRTUAL TABLE fts_catalog_search USING fts5(title_folded, keywords_folded, text_folded, "
    "content='catalog_search', content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "INSERT INTO fts_catalog_search(fts_catalog_search, rank) VALUES ('rank', 'bm25(10.0, 4.0, 1.0)')",
    """CREATE TRIGGER fts_catalog_search_insert AFTER INSERT ON catalog_search BEGIN
        INSERT INTO fts_catalog_search(rowid, title_folded, keywords_folded, text_folded)
        VALUES (new.id, new.title_folded, new.keywords_folded, new.text_folded);
    END""",
    """CREATE TRIGGER fts_catalog_search_delete AFTER DELETE ON catalog_search BEGIN
        INSERT INTO fts_catalog_search(fts_catalog_search, rowid, title_folded, keywords_folded, text_folded)
        VALUES ('delete', old.id, old.title_folded, old.keywords_folded, old.text_folded);
    END""",
    """CREATE TRIGGER fts_catalog_search_update AFTER UPDATE OF title_folded, keywords_folded, text_folded
    ON catalog_search BEGIN
        INSERT INTO fts_catalog_search(fts_catalog_search, rowid, title_folded, keywords_folded, text_folded)
        VALUES ('delete', old.id, old.title_folded, old.keywords_folded, old.text_folded);
        INSERT INTO fts_catalog_search(rowid, title_folded, keywords_folded, text_folded)
        VALUES (new.id, new.title_folded, new.keywords_folded, new.text_folded);
    END""",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS fts_catalog_search_update",
    "DROP TRIGGER IF EXISTS fts_catalog_search_delete",
    "DROP TRIGGER IF EXISTS fts_catalog_search_insert",
    "DROP TABLE IF EXISTS fts_catalog_search",
)
POSTGRESQL_UP = (
    """CREATE FUNCTION catalog_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.search_vector :=
            setweight(to_tsvector('simple'::regconfig, NEW.title_folded), 'A')
            || setweight(to_tsvector('simple'::regconfig, NEW.keywords_folded), 'B')
            || setweight(to_tsvector('simple'::regconfig, NEW.text_folded), 'C');
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER catalog_search_vector BEFORE INSERT OR UPDATE OF title_folded, keywords_folded, text_folded
    ON catalog_search FOR EACH ROW EXECUTE FUNCTION catalog_search_vector()""",
)
POSTGRESQL_DOWN = (
    "DROP TRIGGER IF EXISTS catalog_search_vector ON catalog_search",
    "DROP FUNCTION IF EXISTS catalog_search_vector()",
)


def _bytewise(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    _create_documents()
    _create_facets()
    for statement in SQLITE_UP if op.get_context().dialect.name == "sqlite" else POSTGRESQL_UP:
        op.execute(statement)
    _index_existing()


def _create_documents() -> None:
    op.create_table(
        "catalog_search",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("uri", sa.String(512), nullable=False),
        sa.Column("city_id", sa.String(64), nullable=False),
        sa.Column("name", _bytewise(100), nullable=False),
        sa.Column("package_id", sa.String(36), nullable=False),
        *(sa.Column(name, sa.Text, nullable=False) for name in FOLDED),
        sa.Column("title_sort", _bytewise(200), nullable=False),
        sa.Column("search_vector", sa.Text().with_variant(TSVECTOR(), "postgresql"), nullable=True),
        sa.Column("facet_codes", sa.Text, nullable=False),
        sa.Column("modified", sa.String(20), nullable=True),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.Column("open", sa.Boolean, nullable=False),
        sa.Column("hvd", sa.Boolean, nullable=False),
        sa.Column("quality_band", sa.String(16), nullable=True),
        sa.Column("quality_score", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_search"),
    )
    for name, columns, unique in (
        ("uri", ["uri"], True),
        ("name", ["name"], True),
        ("package_id", ["package_id"], True),
        ("city_id", ["city_id"], False),
        ("modified", ["modified"], False),
        ("changed_at", ["changed_at"], False),
    ):
        op.create_index(f"ix_catalog_search_{name}", "catalog_search", columns, unique=unique)
    op.create_index("ix_catalog_search_search_vector", "catalog_search", ["search_vector"], postgresql_using="gin")


def _create_facets() -> None:
    op.create_table(
        "catalog_search_facets",
        sa.Column("doc_id", sa.Integer, nullable=False),
        sa.Column("facet", sa.String(16), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("doc_id", "facet", "value", name="pk_catalog_search_facets"),
        sa.ForeignKeyConstraint(
            ["doc_id"], ["catalog_search.id"], name="fk_catalog_search_facets_doc_id_catalog_search", ondelete="CASCADE"
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_catalog_search_facets_facet_value", "catalog_search_facets", ["facet", "value", "doc_id"])


def _index_existing() -> None:
    """Index the datasets harvested before this revision, with their own first-seen and changed-at times.

    This runs the current ``catalog.search`` code: a later revision that changes the search tables must move this
    backfill after itself.
    """
    conn = op.get_bind()
    rows = sa.text(
        "SELECT uri, city_id, data, first_seen, changed_at FROM catalog_datasets WHERE removed = :removed ORDER BY uri"
    ).columns(first_seen=UTCDateTime(), changed_at=UTCDateTime())
    result = conn.execute(rows, {"removed": False})
    while batch := result.fetchmany(1000):
        index_datasets(
            conn,
            [(row.uri, row.city_id, dataset_from_json(row.data)) for row in batch],
            now=batch[0].changed_at,
            dates={row.uri: (row.first_seen, row.changed_at) for row in batch},
        )


def downgrade() -> None:
    for statement in SQLITE_DOWN if op.get_context().dialect.name == "sqlite" else POSTGRESQL_DOWN:
        op.execute(statement)
    op.drop_table("catalog_search_facets")
    op.drop_table("catalog_search")
