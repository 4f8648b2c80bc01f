"""The data catalog: every dataset one record (catalog entry, map layer or rows kept by the
platform), its fields, its immutable versions and the version store."""
