"""The command line, through its real entry point: output, JSON, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import AS_OF
from .oracle import customer_orders, read_orders


def test_get_json_equals_an_independent_computation_for_every_customer(cli, sample_dir):
    expected = customer_orders(read_orders(sample_dir), AS_OF)
    ids = [f"C{i:05d}" for i in range(1, 61)]
    code, out, err = cli("get", "customer_orders", *ids, "--data", sample_dir, "--as-of", AS_OF, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["provenance"]["queries_run"] == 1
    assert doc["provenance"]["parameters"] == {"lookback_days": 90}
    for row in doc["rows"]:
        want = expected.get(row["customer_id"])
        if want:
            assert row["order_count"] == want["order_count"]
            assert row["total_spend"] == pytest.approx(want["total_spend"])
            assert row["last_order"] == want["last_order"].isoformat()
            assert row["top_category"] == want["top_category"]
        else:
            assert row["order_count"] == 0


def test_get_table_and_csv(cli, sample_dir):
    code, out, _ = cli("get", "customer_orders", "C00042", "--data", sample_dir, "--as-of", AS_OF)
    assert code == 0 and "order_count" in out and "1 query" in out
    code, out, _ = cli(
        "get", "customer_orders", "C00042", "C00007", "--data", sample_dir, "--as-of", AS_OF, "-f", "csv"
    )
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("customer_id,order_count,total_spend") and len(lines) == 3


def test_param_option(cli, sample_dir):
    code, out, _ = cli(
        "get",
        "customer_orders",
        "C00042",
        "--data",
        sample_dir,
        "--as-of",
        AS_OF,
        "--param",
        "lookback_days=7",
        "-f",
        "json",
    )
    assert code == 0 and json.loads(out)["provenance"]["parameters"] == {"lookback_days": 7}


def test_render_prints_sql_and_bound_values(cli):
    code, out, _ = cli("render", "customer_orders", "C00042", "--as-of", "2026-06-30")
    assert code == 0
    assert (
        ":entity_ids" in out
        and "C00042" not in out.split("-- bound parameters")[0]
        and '"entity_ids": [\n    "C00042"\n  ]' in out
        and '"as_of": "2026-06-30"' in out
    )


def test_list_show_validate(cli):
    code, out, _ = cli("list")
    assert code == 0 and "customer_orders" in out and "spend_trend" in out and "retention_note" in out
    code, out, _ = cli("show", "customer_orders")
    assert code == 0 and "customer_orders.refund_rate" in out and "lookback_days" in out
    code, out, _ = cli("validate")
    assert code == 0 and "is valid" in out


def test_note_offline(cli, sample_dir):
    code, out, _ = cli("note", "retention_note", "C00042", "--data", sample_dir, "--as-of", AS_OF)
    assert code == 0 and "offline note" in out and "Customer C00042 placed" in out


BAD_INPUTS = [
    (
        ("get", "customer_orders", "C1' OR '1'='1"),
        2,
        "error: customer id: \"C1' OR '1'='1\" does not match the pattern",
    ),
    (("get", "customer_order", "C00042"), 2, "error: unknown view 'customer_order'; did you mean 'customer_orders'?"),
    (("get", "customer_orders", "C00042", "-p", "lookback_days=abc"), 2, "error: lookback_days: 'abc' is not an int"),
    (
        ("get", "customer_orders", "C00042", "-p", "lookback_days=0"),
        2,
        "error: lookback_days: 0 is below the minimum 1",
    ),
    (("get", "customer_orders", "C00042", "-p", "lookbak_days=5"), 2, "did you mean 'lookback_days'?"),
    (("get", "customer_orders", "C00042", "-p", "oops"), 2, "error: --param: 'oops' is not NAME=VALUE"),
    (("get", "customer_orders", "C00042", "--as-of", "2026-02-30"), 2, "error: as_of: '2026-02-30' is not a date"),
    (("get", "customer_orders", "C00042", "--format", "xml"), 2, "error: --format: 'xml' is not one of"),
    (("show", "customer_ordres"), 2, "did you mean 'customer_orders'?"),
    (("get", "customer_orders", "C00042", "--engine", "postgres"), 2, "error: unknown engine 'postgres'"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_and_non_zero(cli, sample_dir, args, code, message):
    got, out, err = cli(*args, *(["--data", str(sample_dir)] if args[0] == "get" else []))
    assert got == code
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out


def test_missing_and_empty_data_folder(cli, tmp_path):
    code, _, err = cli("get", "customer_orders", "C00042", "--data", tmp_path / "none")
    assert code == 1 and err.strip().endswith("does not exist") and len(err.strip().splitlines()) == 1
    (tmp_path / "orders").mkdir()
    code, _, err = cli("get", "customer_orders", "C00042", "--data", tmp_path)
    assert code == 1 and "has no .json, .csv or .parquet files" in err


def test_malformed_declaration_lists_problems_with_file_and_line(cli, tmp_path):
    import shutil

    from featurekit.catalog.loader import shipped_catalog

    shutil.copytree(shipped_catalog(), tmp_path / "c")
    (tmp_path / "c" / "tables" / "orders.yaml").write_text("name: orders\ncolumns: [\n")
    sql = tmp_path / "c" / "views" / "spend_trend.sql"
    sql.write_text(sql.read_text().replace("WHERE customer_id", "WHERE {{ region }} AND customer_id"))
    code, _, err = cli("validate", "--catalog", tmp_path / "c")
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert any("tables/orders.yaml:3: YAML syntax error" in line for line in lines), err
    assert any("views/spend_trend.sql:" in line and "template variable 'region'" in line for line in lines), err


def test_sample_data_is_deterministic(cli, tmp_path: Path):
    for name in ("a", "b"):
        code, out, _ = cli("sample-data", "--out", tmp_path / name, "--as-of", "2026-06-30", "--orders", "300")
        assert code == 0 and "wrote 300 orders" in out
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.json"))
    assert files_a == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.json"))
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files_a)


def test_demo_runs_end_to_end_as_a_real_process(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no AWS settings at all
    proc = subprocess.run(
        [sys.executable, "-m", "featurekit.cli", "demo"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "1. sample data" in proc.stdout and "2. features" in proc.stdout and "3. notes" in proc.stdout
    assert "asked again: 0 queries, 4 cache hits" in proc.stdout
    assert "Customer C00042 placed" in proc.stdout
