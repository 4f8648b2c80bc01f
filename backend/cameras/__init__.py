"""Video points (天网 / 雪亮 / traffic cameras)."""
