"""pytest plugin for the parity report (`-p tests.parity_plugin`, used by `nox -s parity`).

A test marked `@pytest.mark.parity("behaviour")` gets a junit property `parity` with
the behaviour's name, so `tests/parity_report.py` can build one table from the
junit XML of the SQLite run and of the Postgres run. Parity means both backends:
a parity test that is also `sqlite_only`/`postgres_only` is a usage error.
"""

from __future__ import annotations

import pytest

PROPERTY = "parity"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("parity")
        if marker is None:
            continue
        name = next(iter(marker.args), None) or marker.kwargs.get("name")
        if not isinstance(name, str) or not name.strip():
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.parity needs a behaviour name")
        for only in ("sqlite_only", "postgres_only"):
            if item.get_closest_marker(only):
                raise pytest.UsageError(f"{item.nodeid}: a parity test cannot be {only}")
        item.user_properties.append((PROPERTY, name.strip()))
