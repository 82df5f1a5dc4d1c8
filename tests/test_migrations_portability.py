"""``python -m core.database check-migrations`` (migrations.portability) on Postgres-only SQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADER = """
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
"""
POSTGRES_ONLY = (
    HEADER
    + """

def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS plpgsql")
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()")),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("token", sa.Uuid(), server_default=sa.text("gen_random_uuid()")),
        sa.Column("tags", postgresql.ARRAY(sa.Text())),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index(
        "uq_orders_email_live", "orders", ["email"], unique=True,
        postgresql_where=sa.text("NOT deleted"),
    )
    op.create_index("ix_orders_payload", "orders", ["payload"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_table("orders")
"""
)
# The same history after following every fix the check printed.
PORTED = (
    HEADER
    + """

def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS plpgsql")
    op.create_table(
        "orders",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP")
        ),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("token", sa.Uuid()),
        sa.Column("tags", sa.JSON()),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index(
        "uq_orders_email_live", "orders", ["email"], unique=True,
        postgresql_where=sa.text("NOT deleted"), sqlite_where=sa.text("NOT deleted"),
    )


def downgrade() -> None:
    op.drop_table("orders")
"""
)
# Raw SQL the offline read cannot see into: the SQLite probe finds it in the schema.
RAW = (
    HEADER
    + """

def upgrade() -> None:
    op.execute(
        "CREATE TABLE events (id BIGINT PRIMARY KEY, at TIMESTAMP DEFAULT (now()))"
    )


def downgrade() -> None:
    op.execute("DROP TABLE events")
"""
)

# Postgres-only constructs of another kind: options, sequences, casts, generic types.
MORE_POSTGRES_ONLY = (
    HEADER
    + """

def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("n", sa.Integer(), sa.Sequence("ledger_n_seq")),
        sa.Column("ref", sa.UUID()),
        sa.Column("meta", sa.JSON(), server_default=sa.text("'{}'::jsonb")),
        sa.Column("seq", sa.Integer(), server_default=sa.text("nextval('ledger_n_seq')")),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("codes", sa.ARRAY(sa.Integer())),
        postgresql_partition_by="RANGE (id)",
    )


def downgrade() -> None:
    op.drop_table("ledger")
"""
)


def history(tmp_path: Path, revision: str) -> Path:
    (tmp_path / "hostdb.py").write_text("from sqlalchemy import MetaData\nmetadata = MetaData()\n")
    command = [sys.executable, "-m", "core.database", "init-migrations", "--metadata"]
    subprocess.run([*command, "hostdb:metadata"], cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "migrations" / "versions" / "0001_first.py").write_text(revision)
    return tmp_path


def check(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "core.database", "check-migrations", *options],
        cwd=folder,
        env={**environment, "APP_ENV": "local"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def postgres_option(database_url: str) -> list[str]:
    return ["--postgres", database_url] if database_url.startswith("postgres") else []


def test_a_postgres_only_history_is_named_construct_by_construct(
    tmp_path: Path, database_url: str
) -> None:
    result = check(history(tmp_path, POSTGRES_ONLY), *postgres_option(database_url))
    output = result.stdout
    assert result.returncode == 1, output + result.stderr
    expected = [
        (
            "revision 0001, table orders, column id: BIGINT primary key is not a rowid alias",
            "fix: sa.BigInteger().with_variant(sa.Integer(), 'sqlite')",
        ),
        (
            "column created_at: server default now() fails on SQLite (no such function: now)",
            'fix: server_default=sa.text("CURRENT_TIMESTAMP")',
        ),
        (
            "revision 0001, table orders, column payload: postgresql.JSONB has no SQLite form",
            "fix: sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')",
        ),
        (
            "column token: server default gen_random_uuid() fails on SQLite",
            "fix: default=uuid.uuid4 on the model",
        ),
        (
            "error: revision 0001, table orders, column tags: postgresql.ARRAY has no SQLite form",
            "fix: sa.JSON() holding a list, or a child table",
        ),
        (
            "error: revision 0001, table orders, index uq_orders_email_live: postgresql_where=",
            "fix: add sqlite_where= with the same condition",
        ),
        (
            "note: revision 0001, table orders, index ix_orders_payload: postgresql_using=",
            "fix: nothing, if a plain index is right for tests",
        ),
        (
            'error: SQLite replay: upgrade head failed at "CREATE EXTENSION IF NOT EXISTS',
            "dialect.name == 'postgresql'",
        ),
    ]
    lines = output.splitlines()
    for finding, fix in expected:
        (index,) = [i for i, line in enumerate(lines) if finding in line]
        assert fix in lines[index + 1], (finding, output)
    assert "column deleted" not in output  # sa.false() is portable
    assert "7 not portable, 1 note(s)" in output
    if database_url.startswith("postgres"):
        assert "postgres: upgrade head, downgrade base, upgrade head on" in output
        assert parse_password(database_url) not in output


def test_the_ported_history_passes(tmp_path: Path, database_url: str) -> None:
    result = check(history(tmp_path, PORTED), *postgres_option(database_url))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sqlite: upgrade head, downgrade base on a scratch file: ok" in result.stdout
    assert "portable: no finding" in result.stdout
    if database_url.startswith("postgres"):
        assert ": ok" in result.stdout.splitlines()[1]


def test_raw_sql_is_probed_in_the_upgraded_sqlite_schema(tmp_path: Path) -> None:
    result = check(history(tmp_path, RAW))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "table events, column id: BIGINT primary key is not a rowid alias" in result.stdout
    assert "table events, column at: server default now() fails on SQLite" in result.stdout


def test_this_repository_history_is_portable() -> None:
    result = check(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "portable: no finding" in result.stdout


def parse_password(url: str) -> str:
    from core.database import parse_database_url

    password = parse_database_url(url).password
    if not password:
        pytest.skip("the test server has no password to look for")
    return password


def test_options_sequences_casts_and_generic_types_are_named(tmp_path: Path) -> None:
    result = check(history(tmp_path, MORE_POSTGRES_ONLY))
    output = result.stdout
    assert result.returncode == 1, output + result.stderr
    expected = [
        ("note: revision 0001, table ledger: postgresql_partition_by=", "SQLite may ignore it"),
        ("column n: sequence ledger_n_seq exists on Postgres only", "an autoincrementing"),
        ("column ref: UUID (the native type) is a UUID-named column", "fix: sa.Uuid()"),
        ("column meta: server default '{}'::jsonb fails on SQLite", "without its cast"),
        ("column seq: server default nextval('ledger_n_seq') fails", "an autoincrementing"),
        ("column codes: ARRAY does not compile on SQLite", "sa.JSON() holding a list"),
    ]
    lines = output.splitlines()
    for finding, fix in expected:
        (index,) = [i for i, line in enumerate(lines) if finding in line]
        assert fix in lines[index + 1], (finding, output)
    assert "column at" not in output  # func.now() compiles to CURRENT_TIMESTAMP on SQLite
    assert "4 not portable, 3 note(s)" in output
