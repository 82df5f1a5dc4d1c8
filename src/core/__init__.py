"""Shared infrastructure for host apps: settings and the database toolkit."""
