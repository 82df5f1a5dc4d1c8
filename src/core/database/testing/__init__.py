"""Testing toolkit: pytest plugin, throwaway Postgres and the safety guard."""
