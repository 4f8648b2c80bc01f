"""Photos on disk, named by the SHA-256 of their (stripped) bytes: written once, atomically,
before the row that describes them is committed, so a committed row always has its file (a
file whose row was rolled back is harmless: the same photo reuses it)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from backend.errors import NotFound

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class PhotoFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str, content_type: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.{EXTENSIONS[content_type]}"

    def write(self, sha256: str, data: bytes, content_type: str) -> Path:
        target = self.path(sha256, content_type)
        if target.is_file() and target.stat().st_size == len(data):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target

    def read(self, sha256: str, content_type: str) -> bytes:
        try:
            return self.path(sha256, content_type).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"Photo {sha256} is recorded but its file is missing from "
                           f"{self.root}: restore it from the backup of var/") from None
