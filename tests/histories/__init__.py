"""Small Alembic histories the migration tests walk: each lossy draft, and each recipe."""
