"""What a register import did, row by row, in the style of the file ingest's report
(backend/ingest/report.py): counts, warnings and each refused row with its reasons; JSON plus
the refused rows as CSV next to it."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from backend.ingest.report import RowIssue, rejected_csv_path


@dataclass
class RegisterReport:
    file: str
    source: str
    format: str | None = None
    status: Literal["loaded", "failed"] = "failed"
    error: str | None = None
    read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    presets: int = 0   # presets written (the rows' presets replace the stored ones)
    devices: int = 0   # registering devices created or updated
    warnings: list[str] = field(default_factory=list)
    rejected_rows: list[RowIssue] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "loaded"

    def reject(self, row: int, code: str | None, reason: str) -> None:
        self.rejected_rows.append(RowIssue(row, code, reason))

    def finish(self, started: float, path: str | Path | None) -> None:
        self.rejected = len(self.rejected_rows)
        self.duration_s = round(time.perf_counter() - started, 3)
        if path is not None:
            self.write(Path(path))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rejected_rows"] = sorted(data["rejected_rows"], key=lambda r: r["row"])
        return data

    def summary(self) -> str:
        if not self.ok:
            return f"{self.file}: FAILED ({self.rejected} refused): {self.error}"
        return (f"{self.file} -> cameras [{self.source}]: read {self.read}, inserted "
                f"{self.inserted}, updated {self.updated}, refused {self.rejected}, presets "
                f"{self.presets}, devices {self.devices}")

    def write(self, path: Path) -> Path:
        """The JSON report and the refused rows as CSV (row, code, reason). Returns the CSV."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
        out = rejected_csv_path(path)
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["row", "code", "reason"])
            for issue in sorted(self.rejected_rows, key=lambda r: r.row):
                writer.writerow([issue.row, issue.key or "", issue.reason])
        return out
