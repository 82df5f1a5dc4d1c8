"""`SyncDatabase`: the sync face of `Database`; plus the process-wide default one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import orm, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session

from core.database.errors import DatabaseUnavailableError
from core.database.session import make_sync_sessionmaker, sync_session_scope
from core.database.settings import Settings, get_settings
from core.database.sync.engine import create_sync_engine
from core.database.url import mask_url, sync_database_url

__all__ = ["SyncDatabase", "get_sync_database", "set_sync_database", "transaction"]


class SyncDatabase:
    """A sync Engine created on first use, and the sessions made from it.

    Takes the same URL and settings as `Database` (an async-driver URL is fine: it
    is normalised to sqlite3 or psycopg). The app-wide default comes from
    `get_sync_database()`.
    """

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        settings: Settings | None = None,
        **engine_options: Any,
    ) -> None:
        self._settings = settings or get_settings()
        raw = url if url is not None else self._settings.database_url.get_secret_value()
        self.url = sync_database_url(raw)  # fails fast on a bad URL, before any I/O
        self._engine_options = engine_options
        self._engine: Engine | None = None
        self._sessionmaker: orm.sessionmaker[Any] | None = None
        self._lock = threading.Lock()  # threads racing to the first use build one engine

    def __repr__(self) -> str:
        return f"SyncDatabase({mask_url(self.url)!r})"

    @property
    def settings(self) -> Settings:
        """The settings this database was built with."""
        return self._settings

    @property
    def masked_url(self) -> str:
        """The URL with the password and secret query values masked."""
        return mask_url(self.url)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    @property
    def engine(self) -> Engine:
        """The sync Engine, created on first access."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = create_sync_engine(
                        self.url, settings=self._settings, **self._engine_options
                    )
        return self._engine

    @property
    def sessionmaker(self) -> orm.sessionmaker[Any]:
        """The session factory (expire_on_commit=False)."""
        if self._sessionmaker is None:
            self._sessionmaker = make_sync_sessionmaker(self.engine)
        return self._sessionmaker

    @contextmanager
    def override_sessionmaker(self, factory: orm.sessionmaker[Any]) -> Iterator[None]:
        """Use `factory` for every session of this database while the block runs (tests)."""
        previous, self._sessionmaker = self._sessionmaker, factory
        try:
            yield
        finally:
            self._sessionmaker = previous

    def session(self) -> Session:
        """A new session; use it as `with db.session() as session:`."""
        session: Session = self.sessionmaker()
        return session

    def transaction(self) -> AbstractContextManager[Session]:
        """`with db.transaction() as session:` commits on success, rolls back on error."""
        return sync_session_scope(self.sessionmaker)

    def ping(self, timeout: float = 2.0) -> bool:
        """True if `SELECT 1` answers within `timeout` s; else DatabaseUnavailableError."""
        outcome: list[BaseException | None] = []

        def probe() -> None:
            try:
                # Through a session, so a test's shared connection answers the ping too.
                with self.session() as session:
                    session.execute(text("SELECT 1"))
            except BaseException as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

        # A sync call cannot be interrupted: wait for it on a thread, up to the deadline.
        prober = threading.Thread(target=probe, name="core.database ping", daemon=True)
        prober.start()
        prober.join(timeout)
        if not outcome:
            raise DatabaseUnavailableError(f"no answer within {timeout:g}s", url=self.masked_url)
        if outcome[0] is not None:
            raise outcome[0]
        return True

    def dispose(self) -> None:
        """Close every pooled connection; the engine is rebuilt on next use."""
        with self._lock:
            engine, self._engine, self._sessionmaker = self._engine, None, None
        if engine is not None:
            engine.dispose()


_default: SyncDatabase | None = None
_default_lock = threading.Lock()


def get_sync_database() -> SyncDatabase:
    """The app-wide SyncDatabase, built from settings on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = SyncDatabase()
    return _default


def set_sync_database(database: SyncDatabase | None) -> SyncDatabase | None:
    """Replace the app-wide SyncDatabase (None: rebuild from settings); return the old one."""
    global _default
    previous, _default = _default, database
    return previous


def transaction() -> AbstractContextManager[Session]:
    """`with transaction() as session:` on the default sync database: commit or roll back."""
    return get_sync_database().transaction()
