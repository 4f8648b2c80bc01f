"""Data arriving three ways: files, a department push API, table exchange."""
