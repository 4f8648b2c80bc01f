"""The import rules of the house plan, checked by import-linter (the contracts are in
pyproject.toml's [tool.importlinter]; `make lint` runs the same check)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd), "NO_COLOR": "1"}
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_code_keeps_every_import_contract() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: (\d+) kept, 0 broken", result.stdout)


def test_the_contracts_catch_what_they_forbid(tmp_path: Path) -> None:
    """The same contracts over a small tree that breaks each of them once."""
    config = (ROOT / "pyproject.toml").read_text()
    section = config[config.index("\n[tool.importlinter]\n"):]
    (tmp_path / "pyproject.toml").write_text(section)
    files = {
        "backend/ingest/feed.py": "import backend.vehicles.store\n",
        "backend/ingest/ok.py": "import backend.ingest.feed\n",
        "backend/vehicles/store.py": "",
        "backend/vehicles/service.py": "import backend.vehicles.store\n",
        "backend/vehicles/models.py": "",
        "backend/transit/ok.py": "import backend.vehicles.service\n",
        "backend/transit/bad.py": "from backend.vehicles import store\n",
        "backend/traffic/models.py": "",
        "backend/cameras/status.py": "",
        "backend/ingest/gb28181/listener.py": "import backend.cameras.status\n",
        "backend/db/models.py": "import backend.vehicles.models\nimport backend.traffic.models\n",
        "backend/datasets/store.py": "import backend.quality.gate\n",
        "backend/datasets/wiring.py": "import backend.exchange.wiring\n",
        "backend/quality/gate.py": "",
        "backend/exchange/wiring.py": "",
        "backend/sharing/__init__.py": "",
        "tiles/source.py": "import starlette.responses\n",
        "starlette/responses.py": "",
        "fastapi/__init__.py": "",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(tmp_path).parents:
            if parent != Path("."):
                (tmp_path / parent / "__init__.py").touch()
        path.write_text(text)
    result = lint(tmp_path)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "Contracts: 0 kept, 5 broken" in out
    assert "backend.ingest.gb28181.listener -> backend.cameras.status" in out
    assert "backend.ingest.feed -> backend.vehicles.store" in out
    assert "tiles.source -> starlette" in out
    assert "backend.transit.bad -> backend.vehicles.store" in out
    assert "backend.transit.ok" not in out  # through the service is allowed
    assert "backend.datasets.store -> backend.quality.gate" in out
    assert "backend.datasets.wiring" not in out  # the wiring assembles the slices
