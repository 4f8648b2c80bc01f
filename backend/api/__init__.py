"""Dependency aliases and router assembly only."""
