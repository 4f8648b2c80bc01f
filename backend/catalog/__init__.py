"""Reads layers/ and scenarios/ into validated models (the only package that reads them)."""
