"""Feed adapters: files (backend.ingest.files), and later HTTP batch, MQTT, JT/T 808, GTFS-RT."""
