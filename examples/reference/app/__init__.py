"""Reference host app."""
