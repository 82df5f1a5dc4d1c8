"""After ``os.fork()``, a child process opens connections of its own.

A forked child (multiprocessing on Linux, Celery and RQ prefork workers,
``gunicorn --preload``) inherits its parent's pools: their Postgres sockets and
SQLite handles are then shared, and two processes talking on one connection read
each other's answers or wait forever. In the child, each engine drops the pool it
inherited without closing it (closing would end the parent's sessions too) and
starts a new one, as SQLAlchemy's guide on pools and multiprocessing recommends.
The parent is left as it was.

SQLite adds a rule of its own: a child forked while its parent's transaction is
open on a file cannot write to that file (SQLite keeps the parent's lock state in
the memory the child copied). Fork between transactions, as workers do at start.
"""

from __future__ import annotations

import os
import weakref

from sqlalchemy.engine import Engine

__all__ = ["fresh_pool_after_fork"]

# Weak: a discarded engine is simply forgotten.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
# What a child inherited and must never touch: kept referenced, so that no finalizer
# closes the parent's connections from here.
_INHERITED: list[object] = []


def fresh_pool_after_fork(engine: Engine) -> None:
    """Give `engine` a new, empty pool in every child forked from now on."""
    _ENGINES.add(engine)


def _in_child() -> None:
    for engine in list(_ENGINES):
        _INHERITED.append(engine.pool)
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):  # POSIX: no fork elsewhere
    os.register_at_fork(after_in_child=_in_child)
