"""The fault suite: `python -m faults` (`nox -s faults`) -> docs/reliability.md.

The reference app runs under uvicorn on a throwaway Postgres (and on a SQLite
file), driven by a bounded concurrent client, while each scenario injects one
fault: a Postgres restart, killed backends, a killed app, a stalled server, a
lock past statement_timeout, cancelled requests, pool exhaustion, two processes
on one SQLite file. Every figure that must be zero is checked; any other value
fails the run.
"""
