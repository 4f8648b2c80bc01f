"""`cityops datasets sync` on the session's database: nothing to change after the server's
own sync at start; a broken catalog file is named, not a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from backend.settings import Settings


def _cityops(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "CITYOPS_DATABASE_NAME": settings.database_name, **env}
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], capture_output=True,
                          text=True, env=full, timeout=300, check=False)


def test_datasets_sync_command(settings: Settings, client: TestClient, tmp_path: Path) -> None:
    res = _cityops(settings, "datasets", "sync")
    assert res.returncode == 0, res.stderr
    assert "datasets in the catalog; changed: 0 departments, 0 datasets, 0 fields" in res.stdout
    broken = tmp_path / "catalog"
    shutil.copytree(settings.catalog_dir, broken)
    (broken / "departments.yaml").write_text("departments: []\n", encoding="utf-8")
    res = _cityops(settings, "datasets", "sync", CITYOPS_CATALOG_DIR=str(broken))
    assert res.returncode == 2
    assert "departments.yaml: departments:" in res.stderr and "Traceback" not in res.stderr
