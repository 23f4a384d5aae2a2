"""The load test at tiny counts, so it cannot rot: real `featurekit serve --workers 2 --redis`, real HTTP clients.

No timings are asserted; what the numbers rest on is: every request answered, and one query per missing entity
across both workers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks import load


@pytest.mark.slow
def test_quick_load_run_two_workers_share_one_query_per_missing_entity(tmp_path: Path) -> None:
    sizes = load.Sizes.quick()
    results = load.run(sizes, tmp_path, page=False, data=tmp_path / "data")
    assert json.loads((tmp_path / "load.json").read_text()) == results
    assert results["single"]["statuses"] == {"200": results["single"]["requests"]} and results["single"]["requests"]
    assert results["single"]["queries"] == 0  # warm: every lookup a hit
    assert results["batch"]["statuses"] == {"200": results["batch"]["requests"]} and results["batch"]["requests"]
    flight = results["single_flight"]
    assert flight["requests"] == sizes.missing * sizes.clients
    assert flight["queries"] == sizes.missing and flight["queries_per_missing_entity"] == 1
    assert "per missing entity" in (tmp_path / "load.md").read_text()
