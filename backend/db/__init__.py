"""Database access: engine, tables, migrations and the managed local PostGIS."""
