"""Bus lines and stops (static network; live vehicles arrive with the live-buses work)."""
