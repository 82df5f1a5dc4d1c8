"""Benchmarks of core.database against bare SQLAlchemy and the raw drivers.

Run with `nox -s bench` (or `python -m bench`); results go to docs/benchmarks.md.
These are measurements, never tests: nothing here asserts a speed.
"""
