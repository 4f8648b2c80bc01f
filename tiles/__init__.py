"""The tile engine as a library: no web framework, no backend imports.

It takes a way to get a DB-API connection and answers tiles as bytes, so the same
code serves the FastAPI app, the benchmark and the tests.
"""
