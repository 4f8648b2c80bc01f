"""Open311 GeoReport v2: our case categories as services, cases as service requests."""
