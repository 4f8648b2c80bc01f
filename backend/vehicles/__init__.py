"""Live vehicles: positions from every feed, alarms, bus-line operations."""
