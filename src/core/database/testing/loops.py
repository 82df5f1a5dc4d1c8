"""One event loop for everything that touches the test database, and only for that.

The engine and each test's outer transaction live in the session's event loop; a
coroutine that uses them from another loop fails ("attached to a different loop" on
asyncpg). So the plugin runs in the session loop exactly the tests and async fixtures
that depend on its fixtures, directly or through the host's own fixtures, and leaves
every other test and fixture in whatever loop pytest-asyncio gives it. No ini line is
needed: the host's `asyncio_mode` and loop-scope settings apply to everything else.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator
from typing import Any

import pytest

__all__ = ["DATABASE_FIXTURES", "pytest_fixture_setup", "pytest_pycollect_makeitem"]

DATABASE_FIXTURES = frozenset({"database", "db_connection", "db_session", "db_client"})
_SESSION_LOOP = "session"
# Fixture names found to depend on the database during this run (grows at setup).
_bound: set[str] = set(DATABASE_FIXTURES)


def _is_async(function: object) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


@pytest.hookimpl(trylast=True, wrapper=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Generator[None, Any, Any]:
    """Mark async tests whose fixture closure reaches the database for the session loop.

    trylast makes this wrapper run inside pytest-asyncio's, so the marker is on the
    item before pytest-asyncio decides (strict mode too) whether the item is its own.
    """
    result = yield
    nodes = result if isinstance(result, list) else [result]
    for node in nodes:
        if not isinstance(node, pytest.Function) or not _is_async(getattr(node, "obj", None)):
            continue
        if DATABASE_FIXTURES.isdisjoint(node.fixturenames):
            continue
        marker = node.get_closest_marker("asyncio")
        explicit = marker.kwargs.get("loop_scope") if marker is not None else None
        if explicit not in (None, _SESSION_LOOP):
            raise pytest.UsageError(
                f"{node.nodeid}: uses core.database's fixtures, which live in the session"
                f" event loop, but asks for loop_scope={explicit!r}; drop the argument"
            )
        node.add_marker(pytest.mark.asyncio(loop_scope=_SESSION_LOOP))
        node.add_marker(pytest.mark.database_loop)
    return result


@pytest.hookimpl(tryfirst=True, wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """Run a host's async fixture in the session loop when it depends on the database.

    Fixtures are set up after their dependencies, so a dependency on the database
    through another fixture is known by the time a dependent fixture is set up.
    """
    if not _bound.isdisjoint(fixturedef.argnames):
        _bound.add(fixturedef.argname)
        if _is_async(fixturedef.func):
            _serve_in_session_loop(fixturedef)
    # The outermost wrapper: pytest-asyncio's, inside, sees the attributes set here.
    return (yield)


def _serve_in_session_loop(fixturedef: pytest.FixtureDef[Any]) -> None:
    function = fixturedef.func
    # A fixture defined in a test class is a bound method: mark the function itself.
    target: Any = getattr(function, "__func__", function)
    # pytest-asyncio 1.x reads these two attributes, which its own decorator sets:
    # `_force_asyncio_fixture` serves a plain @pytest.fixture in strict mode too.
    explicit = getattr(target, "_loop_scope", None)
    if explicit in (None, _SESSION_LOOP):
        target._force_asyncio_fixture = True
        target._loop_scope = _SESSION_LOOP
        return
    raise pytest.UsageError(
        f"fixture {fixturedef.argname!r} uses core.database's fixtures, which live in the"
        f" session event loop, but asks for loop_scope={explicit!r}; drop the argument"
    )
