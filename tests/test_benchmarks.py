"""The benchmark code paths at small sizes, so they cannot rot. No timings are asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks import report
from benchmarks import run as bench
from benchmarks.common import Sizes


@pytest.mark.slow
def test_quick_benchmarks_write_json_markdown_and_png(tmp_path: Path) -> None:
    sizes = Sizes.quick()
    results = bench.run(sizes, tmp_path / "out", data_root=tmp_path / "data", athena=True, page=False)
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {"scaling", "batch", "cache", "athena", "pruning", "startup", "tutorial", "figures"} <= set(written)
    table = (tmp_path / "out" / "results.md").read_text()
    assert table.count("\n| (") == len(results["figures"]) >= 15
    assert (tmp_path / "out" / "results.png").read_bytes()[:4] == b"\x89PNG"
    # What the numbers rest on, not how fast they are: both sides give the same answers, one query each.
    for workload in ("pit", "orders"):
        assert results["scaling"][workload]["answers_match"]
        assert [int(n) for n in results["scaling"][workload]["by_n"]] == list(sizes.scaling_ns)
        assert all(o["queries"] == 1 for o in results["scaling"][workload]["by_n"].values())
    assert all(b["batch_queries"] == 1 for b in results["batch"].values())
    assert results["cache"]["read_entities"] == min(1_000, sizes.cache_fill)
    assert results["pruning"]["partitioned"]["files_read"] == 91  # as_of and the 90 days before it
    assert results["pruning"]["unpartitioned"]["files_read"] == results["pruning"]["unpartitioned"]["files_total"]
    athena = results["athena"]
    assert athena["featurekit"]["calls_by_operation"]["StartQueryExecution"] == 1
    assert athena["tutorial"]["calls_by_operation"]["GetQueryResults"] == 1


def test_the_page_table_is_replaced_between_markers(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text(f"# Performance\n\n{report.START}\nold\n{report.END}\n\nafter\n")
    report.write_page("| new |\n", page)
    assert page.read_text() == f"# Performance\n\n{report.START}\n| new |\n{report.END}\n\nafter\n"


def test_the_hand_written_side_holds_nothing_of_featurekit() -> None:
    # Its peak RSS is the comparator: featurekit's libraries loaded there too made every RSS ratio look ~35 MiB
    # better than it was.
    code = (
        "import sys; from benchmarks import child, handwritten; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'featurekit', 'sqlalchemy', 'sqlglot', 'pydantic', 'jinja2', 'yaml', 'numpy', 'pyarrow'}))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
