"""Migrations (core.database.migrations + alembic/): one history that runs on both backends.

Each test migrates a scratch database of its own, never the suite's: on SQLite a
temp file, on Postgres a separate `<name>_mig_test` database on the same server.
"""

from __future__ import annotations

import ast
import io
import logging
import re
import shutil
from argparse import Namespace
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BIGINT,
    DATETIME,
    INTEGER,
    TIMESTAMP,
    VARCHAR,
    Column,
    DefaultClause,
    Index,
    MetaData,
    String,
    Table,
    func,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION, JSONB
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from core.database import (
    Base,
    ConfigurationError,
    ExactDecimal,
    ForeignKeyViolation,
    UTCDateTime,
    create_engine,
    new_metadata,
)
from core.database.migrations import (
    ForeignKeyCheckError,
    alembic_config,
    check,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
    upgrade_engine,
)
from core.database.migrations.hooks import render_item

ROOT = Path(__file__).resolve().parents[1]
ALEMBIC_INI = ROOT / "alembic.ini"
APP_TABLES = {"users", "tokens", "events", "event_streams"}
SECRET_HASH = "0" * 64

# The copy's env.py lets a test migrate towards a changed model.
TEST_ENV = """\
from alembic import context

import app.models  # noqa: F401
from core.database import Base
from core.database.migrations import run_migrations

run_migrations(context.config.attributes.get("target_metadata", Base.metadata))
"""

ALTER_USERS = '''\
"""alter users: a column, an index, a nullable flag"""

import sqlalchemy as sa
from alembic import op

revision = "a1b2c3d4e5f6"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("nickname", sa.String(50), nullable=True))
        batch_op.create_index("ix_users_name", ["name"])
        batch_op.alter_column("name", existing_type=sa.String(200), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(200), nullable=True)
        batch_op.drop_index("ix_users_name")
        batch_op.drop_column("nickname")
'''

ORPHAN_TOKEN = '''\
"""a data migration that leaves a token without its user"""

from alembic import op

revision = "0f0f0f0f0f0f"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "INSERT INTO tokens (user_id, secret_hash, expires_at, revoked) "
        "VALUES (999, '{secret}', '2030-01-01 00:00:00', 0)"
    )


def downgrade() -> None:
    pass
'''


# --- scratch databases ---------------------------------------------------------------


@pytest.fixture
def sqlite_scratch(tmp_path: Path) -> URL:
    """An empty SQLite file, whatever the backend of this run."""
    return sqlite_file(tmp_path / "other_test.db")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of alembic.ini and alembic/ to add revisions to; returns the ini path."""
    shutil.copytree(
        ROOT / "alembic", tmp_path / "alembic", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "alembic" / "env.py").write_text(TEST_ENV)
    # ruff (the post-write hook) is a dev dependency, not a test one.
    ini, replaced = re.subn(r"(?m)^hooks = .*$", "hooks =", ALEMBIC_INI.read_text())
    assert replaced == 1
    (tmp_path / "alembic.ini").write_text(ini)
    return tmp_path / "alembic.ini"


def sqlite_file(path: Path) -> URL:
    return URL.create("sqlite+aiosqlite", database=str(path))


@asynccontextmanager
async def connect(url: URL) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction, on an engine of its own (disposed afterwards)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            yield connection
    finally:
        await engine.dispose()


async def tables(url: URL) -> set[str]:
    async with connect(url) as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def count(connection: AsyncConnection, table: str) -> int:
    return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def insert_rows(url: URL) -> list[int]:
    """Two users; the first has two tokens and two events, the second one of each."""
    async with connect(url) as connection:
        user_ids = [
            (
                await connection.execute(
                    text("INSERT INTO users (email, name) VALUES (:email, :name) RETURNING id"),
                    {"email": f"u{n}@example.com", "name": f"user {n}"},
                )
            ).scalar_one()
            for n in (1, 2)
        ]
        for n, user_id in enumerate((user_ids[0], user_ids[0], user_ids[1])):
            await connection.execute(
                text(
                    "INSERT INTO tokens (user_id, secret_hash, expires_at, revoked) "
                    "VALUES (:user_id, :secret, CURRENT_TIMESTAMP, :revoked)"
                ),
                {"user_id": user_id, "secret": f"{n:064d}", "revoked": False},
            )
            await connection.execute(
                text("INSERT INTO events (user_id, kind, payload) VALUES (:user_id, 'k', '{}')"),
                {"user_id": user_id},
            )
    return user_ids


def add_revision(ini: Path, template: str, **values: Any) -> None:
    head = head_revision(config_path=ini)
    source = template.format(down=head, **values)
    (ini.parent / "alembic" / "versions" / f"test_{len(source)}.py").write_text(source)


def users_with_nickname() -> MetaData:
    """The app's tables, with `users` grown by two columns and an index."""
    metadata = new_metadata()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    users = metadata.tables["users"]
    users.append_column(Column("nickname", String(50), nullable=True))
    users.append_column(
        Column("seen_at", UTCDateTime(), server_default=func.current_timestamp(), nullable=False)
    )
    Index("ix_users_nickname", users.c.nickname)
    return metadata


# --- the repository's own history ---------------------------------------------------------


def test_history_has_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config(config_path=ALEMBIC_INI))
    heads = script.get_heads()
    assert len(heads) == 1, f"several heads: {heads}; run `alembic merge heads`"
    assert head_revision(config_path=ALEMBIC_INI) == heads[0]


def test_revision_files_import_only_alembic_and_sqlalchemy() -> None:
    allowed = {"alembic", "sqlalchemy", "collections", "typing", "__future__"}
    for path in sorted((ROOT / "alembic" / "versions").glob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] in allowed, f"{path.name} imports {module}"
        # now() does not run on SQLite; CURRENT_TIMESTAMP runs on both.
        assert "now()" not in source.lower(), path.name


async def test_upgrade_check_downgrade_round_trip(scratch: URL) -> None:
    head = head_revision(config_path=ALEMBIC_INI)
    upgrade(scratch, config_path=ALEMBIC_INI)
    # Read through a new engine: the version row was committed together with the DDL.
    assert current_revision(scratch) == head
    assert await tables(scratch) == {*APP_TABLES, "alembic_version"}
    check(scratch, config_path=ALEMBIC_INI)  # the models and the migrated schema agree

    downgrade(scratch, "base", config_path=ALEMBIC_INI)
    assert current_revision(scratch) is None
    assert await tables(scratch) == {"alembic_version"}

    upgrade(scratch, config_path=ALEMBIC_INI)
    assert current_revision(scratch) == head
    check(scratch, config_path=ALEMBIC_INI)


async def test_upgrade_engine_migrates_through_the_engine(scratch: URL, dialect: str) -> None:
    # On SQLite the in-memory case: the database exists only in the engine's connection.
    url = URL.create("sqlite+aiosqlite", database=":memory:") if dialect == "sqlite" else scratch
    engine = create_engine(url)
    try:
        await upgrade_engine(engine, config_path=ALEMBIC_INI)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            assert set(names) == {*APP_TABLES, "alembic_version"}
            if dialect == "sqlite":
                # The pooled connection got its foreign keys back.
                assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await engine.dispose()


def test_in_memory_url_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="upgrade_engine"):
        upgrade("sqlite+aiosqlite:///:memory:", config_path=ALEMBIC_INI)


def test_current_revision_does_not_create_a_sqlite_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing_test.db"
    assert current_revision(sqlite_file(missing)) is None
    assert not missing.exists()


def offline_sql(url: str | URL, *, x_url: str | None = None) -> str:
    buffer = io.StringIO()
    cmd_opts = Namespace(x=[f"dburl={x_url}"] if x_url else [])
    config = Config(str(ALEMBIC_INI), output_buffer=buffer, stdout=buffer, cmd_opts=cmd_opts)
    config.attributes.update(url=url, configure_logger=False)
    command.upgrade(config, "head", sql=True)
    return buffer.getvalue()


def test_offline_sql_renders_for_the_dialect(database_url: str, dialect: str) -> None:
    sql = offline_sql(database_url)
    assert "CREATE TABLE users" in sql and "CREATE TABLE tokens" in sql
    assert "DEFAULT CURRENT_TIMESTAMP" in sql and "now()" not in sql.lower()
    if dialect == "postgresql":
        assert "payload JSONB NOT NULL" in sql and "BIGSERIAL" in sql
    else:
        assert "payload JSON NOT NULL" in sql
        # A script run by hand is protected from cascading deletes too.
        assert sql.index("PRAGMA foreign_keys=OFF") < sql.index("BEGIN")
        assert sql.rstrip().endswith("PRAGMA foreign_keys=ON;")


def test_x_dburl_wins_and_the_password_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr@t%pw"
    x_url = f"postgres://app:{secret}@db.example.com:5432/app"
    with caplog.at_level(logging.INFO, logger="core.database.migrations"):
        sql = offline_sql("sqlite+aiosqlite:///./ignored.db", x_url=x_url)
    assert "JSONB" in sql  # the -x URL (Postgres) won over the one given in code
    assert "app:***@db.example.com" in caplog.text
    assert secret not in caplog.text and secret not in sql


# --- new revisions on a database with rows ------------------------------------------------


async def test_batch_migration_keeps_the_rows_of_every_table(
    project: Path, scratch: URL, dialect: str
) -> None:
    upgrade(scratch, config_path=project)
    user_ids = await insert_rows(scratch)
    add_revision(project, ALTER_USERS)

    for step in (upgrade, downgrade):  # SQLite recreates `users` both ways
        step(scratch, config_path=project)
        async with connect(scratch) as connection:
            counts = {table: await count(connection, table) for table in sorted(APP_TABLES)}
            # Events inserted with raw SQL take no stream position: no event_streams rows.
            assert counts == {"event_streams": 0, "events": 3, "tokens": 3, "users": 2}
            if dialect == "sqlite":
                check_rows = await connection.exec_driver_sql("PRAGMA foreign_key_check")
                assert check_rows.all() == []
            schema = await connection.run_sync(lambda sync: _users_schema(inspect(sync)))
            assert schema["checks"] == {"ck_users_email_not_empty"}
            assert schema["uniques"] == {"uq_users_email"}

    upgrade(scratch, config_path=project)
    async with connect(scratch) as connection:
        schema = await connection.run_sync(lambda sync: _users_schema(inspect(sync)))
        assert schema["nullable"] == {"id": False, "email": False, "name": False, "nickname": True}
        assert "ix_users_name" in schema["indexes"]
        # The children's foreign keys point at the new `users`: enforced, and cascading.
        with pytest.raises(ForeignKeyViolation):
            async with connection.begin_nested():
                await connection.execute(
                    text("INSERT INTO events (user_id, kind, payload) VALUES (999, 'k', '{}')")
                )
        await connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_ids[1]})
        assert await count(connection, "events") == 2
        assert await count(connection, "tokens") == 2


def _users_schema(inspector: Any) -> dict[str, Any]:
    columns = inspector.get_columns("users")
    return {
        "checks": {c["name"] for c in inspector.get_check_constraints("users")},
        "uniques": {c["name"] for c in inspector.get_unique_constraints("users")},
        "indexes": {i["name"] for i in inspector.get_indexes("users")},
        "nullable": {c["name"]: c["nullable"] for c in columns if not c["name"].endswith("_at")},
    }


@pytest.mark.sqlite_only(reason="PRAGMA foreign_key_check guards SQLite's FK-less migrations")
async def test_foreign_key_violation_fails_and_rolls_back(project: Path, scratch: URL) -> None:
    upgrade(scratch, config_path=project)
    before = head_revision(config_path=project)
    add_revision(project, ORPHAN_TOKEN, secret=SECRET_HASH)
    with pytest.raises(ForeignKeyCheckError, match=r"tokens \(1 row without a parent in users\)"):
        upgrade(scratch, config_path=project)
    assert current_revision(scratch) == before
    async with connect(scratch) as connection:
        assert await count(connection, "tokens") == 0


async def test_autogenerate_writes_nothing_when_models_match(project: Path, scratch: URL) -> None:
    upgrade(scratch, config_path=project)
    versions = sorted((project.parent / "alembic" / "versions").glob("*.py"))
    stdout = io.StringIO()
    # As `alembic revision --autogenerate` passes it.
    config = Config(str(project), stdout=stdout, cmd_opts=Namespace(autogenerate=True, x=[]))
    config.attributes.update(url=scratch, configure_logger=False)
    command.revision(config, "nothing", autogenerate=True)
    assert sorted((project.parent / "alembic" / "versions").glob("*.py")) == versions
    assert "no revision written" in stdout.getvalue()


def autogenerate(ini: Path, source: URL, metadata: MetaData) -> tuple[str, str]:
    """A revision generated against `source` (at head) towards `metadata`: (id, source text)."""
    upgrade(source, config_path=ini)
    config = alembic_config(source, config_path=ini, stdout=io.StringIO())
    config.attributes["target_metadata"] = metadata
    command.revision(config, "add users.nickname and seen_at", autogenerate=True)
    scripts = ScriptDirectory.from_config(config)
    script = scripts.get_revision(scripts.get_current_head())
    assert script is not None and script.path is not None
    return script.revision, Path(script.path).read_text()


async def autogenerate_and_apply(ini: Path, source: URL, target: URL) -> str:
    """Generate a revision against `source`, apply it on `target` (with a row); its text."""
    upgrade(target, config_path=ini)
    async with connect(target) as connection:
        await connection.execute(text("INSERT INTO users (email) VALUES ('a@example.com')"))
    changed = users_with_nickname()
    revision, source_text = autogenerate(ini, source, changed)

    upgrade(target, config_path=ini)
    assert current_revision(target) == revision
    async with connect(target) as connection:
        # The NOT NULL column was filled from its server default on the existing row.
        nickname, seen_at = (
            await connection.execute(text("SELECT nickname, seen_at FROM users"))
        ).one()
        assert nickname is None and seen_at is not None
        indexes = await connection.run_sync(lambda sync: inspect(sync).get_indexes("users"))
        assert "ix_users_nickname" in {index["name"] for index in indexes}
    config = alembic_config(target, config_path=ini, stdout=io.StringIO())
    config.attributes["target_metadata"] = changed
    command.check(config)  # no drift against the changed model on the other backend
    return source_text


async def test_revision_generated_on_sqlite_applies_here(
    project: Path, sqlite_scratch: URL, scratch: URL
) -> None:
    text_ = await autogenerate_and_apply(project, sqlite_scratch, scratch)
    assert "batch_alter_table" in text_
    assert 'server_default=sa.text("CURRENT_TIMESTAMP")' in text_


async def test_revision_generated_here_applies_on_sqlite(
    project: Path, scratch: URL, sqlite_scratch: URL
) -> None:
    text_ = await autogenerate_and_apply(project, scratch, sqlite_scratch)
    assert "batch_alter_table" in text_
    assert 'server_default=sa.text("CURRENT_TIMESTAMP")' in text_


# --- rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql"])
def test_render_item_writes_plain_portable_code(dialect_name: str) -> None:
    context = MigrationContext.configure(
        dialect_name=dialect_name, opts={"sqlalchemy_module_prefix": "sa."}
    )
    model_jsonb = JSONB()
    models = MetaData()
    Table("documents", models, Column("body", model_jsonb))
    autogen = AutogenContext(context, metadata=models)
    users = Base.metadata.tables["users"]
    assert render_item("type", users.c.created_at.type, autogen) == "sa.DateTime(timezone=True)"
    assert render_item("type", ExactDecimal(12, 2), autogen) == "sa.Numeric(precision=12, scale=2)"
    assert render_item("type", String(10), autogen) is False  # Alembic's own rendering
    jsonb = render_item("type", model_jsonb, autogen)
    if dialect_name == "sqlite":
        assert jsonb == "postgresql.JSONB(astext_type=sa.Text())"
    else:
        assert jsonb is False  # the Postgres context renders its own types
    # Types reflected from the database (not the models' objects): portable spellings.
    assert render_item("type", JSONB(), autogen) == (
        "sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, "
        'astext_type=sa.Text()), "postgresql")'
    )
    aware = "sa.DateTime(timezone=True)"
    assert render_item("type", DATETIME(), autogen) == (
        aware if dialect_name == "sqlite" else "sa.DateTime()"
    )
    assert render_item("type", VARCHAR(50), autogen) == "sa.String(length=50)"
    key = 'sa.BigInteger().with_variant(sa.Integer(), "sqlite")'
    assert render_item("type", BIGINT(), autogen) == (
        "sa.BigInteger()" if dialect_name == "sqlite" else key
    )
    assert render_item("type", INTEGER(), autogen) == (
        key if dialect_name == "sqlite" else "sa.Integer()"
    )
    assert render_item("type", TIMESTAMP(timezone=False), autogen) == (
        "sa.DateTime(timezone=True)" if dialect_name == "sqlite" else "sa.DateTime()"
    )
    assert render_item("type", DOUBLE_PRECISION(), autogen) == "sa.Double()"
    cast_default = DefaultClause(text("'draft'::character varying"))
    assert render_item("server_default", cast_default, autogen) == "sa.text(\"'draft'\")"
    for default in (func.now(), func.current_timestamp()):
        column = Column("at", UTCDateTime(), server_default=default)
        rendered = render_item("server_default", column.server_default, autogen)
        assert rendered == 'sa.text("CURRENT_TIMESTAMP")'
