"""Reading /metrics the way Prometheus does: the text parsed by prometheus_client's parser."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TEST_METRICS_TOKEN

SCRAPER = {"Authorization": f"Bearer {TEST_METRICS_TOKEN}"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    """Every sample of /metrics as {(name, labels): value}; fails on text Prometheus could
    not read, or on a family given twice."""
    response = client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    names: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        assert family.name not in names, f"family {family.name} exported twice"
        names.add(family.name)
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in samples, f"sample {key} exported twice"
            samples[key] = s.value
    return samples


def value(samples: Samples, name: str, labels: Mapping[str, str] | None = None) -> float:
    """One sample's value; 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset((labels or {}).items())), 0.0)


def series(samples: Samples, name: str) -> list[dict[str, str]]:
    """The label sets of every sample of `name`."""
    return [dict(labels) for n, labels in samples if n == name]
