"""Grid cells (网格) for social-governance grid management."""
