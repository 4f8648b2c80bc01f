"""Pure geodesy helpers (no database, no web framework)."""
