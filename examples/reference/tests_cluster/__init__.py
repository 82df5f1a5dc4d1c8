"""Scale-out tests: worker processes on a real Postgres and redis-server (nox -s scaleout)."""
