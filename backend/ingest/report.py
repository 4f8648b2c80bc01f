"""What a file load did, row by row: counts, the CRS, rejected and repaired rows; JSON + CSV."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class RowIssue:
    """`row` is the feature's 1-based position in the file (for CSV: the first data line is 1)."""

    row: int
    key: str | None
    reason: str


@dataclass
class IngestResult:
    file: str
    layer: str
    table: str
    source: str
    status: Literal["loaded", "failed"] = "failed"
    error: str | None = None
    format: str | None = None
    key_field: str | None = None
    crs_declared: str | None = None  # what the file says (None: nothing, or RFC 7946 default)
    crs_used: str | None = None  # the CRS the coordinates were read in
    crs_target: str = "EPSG:4326"
    from_gcj02: bool = False
    append: bool = False
    max_reject_ratio: float = 0.0
    county_check: str = "not run"
    read: int = 0
    valid: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    repaired: int = 0
    columns_written: list[str] = field(default_factory=list)
    columns_ignored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rejected_rows: list[RowIssue] = field(default_factory=list)
    repaired_rows: list[RowIssue] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "loaded"

    def reject(self, row: int, key: str | None, reason: str) -> None:
        self.rejected_rows.append(RowIssue(row, key, reason))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rejected_rows"] = sorted(data["rejected_rows"], key=lambda r: r["row"])
        data["repaired_rows"] = sorted(data["repaired_rows"], key=lambda r: r["row"])
        return data

    def summary(self) -> str:
        """One line for a terminal."""
        if not self.ok:
            return f"{self.file}: FAILED ({self.rejected} rejected): {self.error}"
        return (
            f"{self.file} -> {self.layer} [{self.source}]: read {self.read}, "
            f"inserted {self.inserted}, updated {self.updated}, unchanged {self.unchanged}, "
            f"deleted {self.deleted}, rejected {self.rejected}, repaired {self.repaired}"
        )


def rejected_csv_path(report_path: Path) -> Path:
    """report.json -> report.rejected.csv, next to it."""
    return report_path.with_name(f"{report_path.stem}.rejected.csv")


def write_report(result: IngestResult, path: str | Path) -> Path:
    """Write the JSON report and the rejected rows as CSV (UTF-8). Returns the CSV's path."""
    report = Path(path)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    out = rejected_csv_path(report)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "source_key", "reason"])
        for issue in sorted(result.rejected_rows, key=lambda r: r.row):
            writer.writerow([issue.row, issue.key or "", issue.reason])
    return out
