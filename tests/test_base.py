"""The declarative Base (core.database.base): constraint names and annotation-driven types."""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, Enum
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from core.database import NAMING_CONVENTION, Base, ExactDecimal, UTCDateTime, new_metadata
from core.database.types import PortableUuid
from tests.models import Child, Item, Parent


def _constraint_names(model: type[Base]) -> set[str]:
    return {str(constraint.name) for constraint in model.__table__.constraints}


def test_constraints_are_named_by_the_convention() -> None:
    assert _constraint_names(Parent) == {"pk_parity_parents", "uq_parity_parents_name"}
    assert _constraint_names(Child) == {
        "pk_parity_children",
        "fk_parity_children_parent_id_parity_parents",
    }
    assert _constraint_names(Item) == {
        "pk_parity_items",
        "ck_parity_items_quantity_non_negative",
        "ck_parity_items_color",
    }


def test_new_metadata_carries_the_convention() -> None:
    assert new_metadata().naming_convention == NAMING_CONVENTION
    assert Base.metadata.naming_convention == NAMING_CONVENTION


def test_annotations_map_to_portable_types() -> None:
    columns = Item.__table__.c
    assert isinstance(columns.happened_at.type, UTCDateTime)
    assert isinstance(columns.amount.type, ExactDecimal)
    assert isinstance(columns.token.type, PortableUuid)
    assert isinstance(columns.payload.type, JSON)
    assert isinstance(columns.tags.type, JSON)
    color = columns.color.type
    assert isinstance(color, Enum)
    assert color.native_enum is False
    assert color.enums == ["red", "green"]  # stored by value


def test_enum_check_is_in_the_ddl_of_both_dialects() -> None:
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        ddl = str(CreateTable(Item.__table__).compile(dialect=dialect))
        assert "CONSTRAINT ck_parity_items_color CHECK (color IN ('red', 'green'))" in ddl
        assert "color VARCHAR(64)" in ddl  # no native ENUM type to migrate
    check = next(c for c in Item.__table__.constraints if c.name == "ck_parity_items_color")
    assert isinstance(check, CheckConstraint)


def test_json_is_jsonb_on_postgres_ddl_and_id_types_differ_per_dialect() -> None:
    pg = str(CreateTable(Item.__table__).compile(dialect=postgresql.dialect()))
    lite = str(CreateTable(Item.__table__).compile(dialect=sqlite.dialect()))
    assert "payload JSONB" in pg
    assert "payload JSON" in lite
    assert "id BIGSERIAL" in pg or "id BIGINT" in pg
    assert "id INTEGER NOT NULL" in lite
