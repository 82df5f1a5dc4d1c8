"""Reference host app."""

# Registers the session hooks that number events in commit order, wherever the
# models are used (routes, scripts, tests).
from app import positions as positions
