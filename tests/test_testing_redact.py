"""A test run whose database refuses the login shows no password, whatever pytest prints."""

from __future__ import annotations

import re
import secrets

import pytest

from core.database import parse_database_url
from core.database.testing.redact import known_passwords, scrub

pytest_plugins = ["pytester"]

HOST_TESTS = """
async def test_needs_the_database(db_session):
    pass
"""


@pytest.mark.postgres_only(reason="a login that the server refuses")
@pytest.mark.parametrize(
    "options",
    [
        ["--tb=auto"],
        ["--tb=long"],
        ["--tb=short"],
        ["--tb=native"],
        ["--tb=line"],
        ["--tb=long", "--showlocals", "-vv"],
        ["--tb=auto", "--showlocals", "-n", "1"],
    ],
    ids=["auto", "long", "short", "native", "line", "long-locals-vv", "xdist-locals"],
)
def test_a_refused_login_leaves_no_password_in_the_output(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    options: list[str],
) -> None:
    for name in ("TEST_DATABASE_URL", "DATABASE_URL", "TEST_POSTGRES_URL", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    wrong = f"Wr0ng{secrets.token_hex(8)}"
    url = parse_database_url(database_url).set(password=wrong)
    monkeypatch.setenv("TEST_DATABASE_URL", url.render_as_string(hide_password=False))
    pytester.makepyfile(test_host=HOST_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *options)
    result.assert_outcomes(errors=1)
    output = result.stdout.str() + result.stderr.str()
    # The cause is still named, only the secret is gone.
    assert re.search("password authentication failed|InvalidPassword", output)
    assert wrong not in output


def test_every_spelling_of_a_known_password_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TEST_DATABASE_URL", "DATABASE_URL", "TEST_POSTGRES_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSWORD", "libpq-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app_test?password=query+secret")
    found = known_passwords(["postgresql+asyncpg://app:p%40ss%2Fword@db/app_test"])
    text = (
        "ConnectionParameters(password='p@ss/word') url=p%40ss%2Fword"
        " PGPASSWORD=libpq-secret q='query secret' quoted=query+secret"
    )
    assert scrub(text, found) == (
        "ConnectionParameters(password='***') url=*** PGPASSWORD=*** q='***' quoted=***"
    )
