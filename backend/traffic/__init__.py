"""Smart-traffic pilot: monitored road segments."""
