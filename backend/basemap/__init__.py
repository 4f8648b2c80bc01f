"""The city base map: boundaries, roads, buildings, cadastral parcels, underground pipelines."""
