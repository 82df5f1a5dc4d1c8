"""Benchmarks (measurements, never tests: nothing here asserts a speed).

`nox -s bench` (`python -m bench`): the toolkit against bare SQLAlchemy and the raw
drivers, written to docs/benchmarks.md.
"""
