"""The public API of core.database: `__all__` is sorted and is exactly what the package exports."""

from __future__ import annotations

import inspect
import sys
import types

import pytest

import core.database as package

# Names the package module holds that are not API: typing helpers and the future import.
NOT_API = {"annotations", "TYPE_CHECKING", "Any"}


def _exported() -> set[str]:
    names = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in NOT_API
    }
    # FastAPI names are imported on first access (an optional extra), so not in vars yet.
    return names | set(package._FASTAPI_NAMES)


def _isort_style(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then CamelCase classes, then functions.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_matches_the_exports() -> None:
    assert package.__all__ == sorted(package.__all__, key=_isort_style)
    assert len(set(package.__all__)) == len(package.__all__)
    assert set(package.__all__) == _exported()


def test_every_public_name_resolves_and_is_documented() -> None:
    for name in package.__all__:
        value = getattr(package, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_unknown_names_raise_attribute_error() -> None:
    try:
        package.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_fastapi_names_without_fastapi_say_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if the optional extra were not installed: importing fastapi fails.
    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.delitem(sys.modules, "core.database.fastapi", raising=False)
    monkeypatch.delattr(package, "fastapi", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'core-database\[fastapi\]'"):
        package.__getattr__("get_session")
