"""Example host app of core.database: notes with comments."""
