"""The benchmark code paths at tiny sizes, so they cannot rot. No timings are asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks import run as bench


@pytest.mark.slow
def test_quick_benchmarks_write_json_markdown_and_png(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "DATA", tmp_path / "data")
    results = bench.run(bench.Sizes.quick(), tmp_path / "out", athena=True, page=False)
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {"overhead", "batch", "cache", "athena", "pruning", "memory", "figures"} <= set(written)
    table = (tmp_path / "out" / "results.md").read_text()
    assert table.count("\n| (") == len(results["figures"]) >= 10
    assert (tmp_path / "out" / "results.png").read_bytes()[:4] == b"\x89PNG"
    # What the numbers rest on, not how fast they are:
    assert all(b["batch_queries"] == 1 for b in results["batch"].values())
    assert results["pruning"]["partitioned"]["files_read"] == 91  # as_of and the 90 days before it
    assert results["pruning"]["unpartitioned"]["files_read"] == results["pruning"]["unpartitioned"]["files_total"]
    assert results["memory"]["rows"] == bench.Sizes.quick().memory_entities
    athena = results["athena"]
    assert athena["featurekit"]["calls_by_operation"]["StartQueryExecution"] == 1
    assert athena["tutorial"]["calls_by_operation"]["GetQueryResults"] == 1


def test_the_page_table_is_replaced_between_markers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "performance.md"
    page.write_text(f"# Performance\n\n{bench.START}\nold\n{bench.END}\n\nafter\n")
    monkeypatch.setattr(bench, "PAGE", page)
    bench.write_page("| new |\n")
    assert page.read_text() == f"# Performance\n\n{bench.START}\n| new |\n{bench.END}\n\nafter\n"
