"""cityops: the city-operations command center service."""
