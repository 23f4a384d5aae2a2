"""CLI conventions users expect from a data tool: --version, shell completion, help that shows choices and flags,
one JSON envelope on every data command, CSV formatted as JSON is, clean exit on a closed pipe, forgiving ID files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurekit.cli.formats import SCHEMA, csv_cell

FEATUREKIT = str(Path(sys.executable).with_name("featurekit"))


def run(*args: str | Path, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FEATUREKIT_")}
    return subprocess.run(
        [FEATUREKIT, *map(str, args)], env={**base, **(env or {})}, capture_output=True, text=True, timeout=120, **kw
    )


def test_version(cli) -> None:
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"featurekit {version('featurekit')}"


def test_bash_completion_script_installs_and_completes(tmp_path: Path) -> None:
    # Typer detects the shell from the process tree; this switch makes the options take the shell as a value
    # instead, so the test does not depend on what runs pytest.
    explicit = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    shown = run("--show-completion", "bash", env=explicit)
    assert shown.returncode == 0 and "_FEATUREKIT_COMPLETE=complete_bash" in shown.stdout
    installed = run("--install-completion", "bash", env={**explicit, "HOME": str(tmp_path)})
    assert installed.returncode == 0, installed.stderr
    assert "featurekit.sh" in (tmp_path / ".bashrc").read_text()
    # What bash asks for on <TAB>: the command completes from its prefix.
    asked = run(env={"_FEATUREKIT_COMPLETE": "complete_bash", "COMP_WORDS": "featurekit ge", "COMP_CWORD": "1"})
    assert asked.stdout.split() == ["get"]


def test_help_shows_choices_and_flags_as_flags(cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    _, out, _ = cli("get", "--help")
    line = next(x for x in out.splitlines() if "--no-cache" in x)
    assert "<bool>" not in line
    assert "<table|json|csv|jsonl>" in out


@pytest.fixture
def json_outputs(cli, sample_dir: Path, tmp_path: Path) -> dict[str, dict]:
    data = ["--data", str(sample_dir)]
    commands = {
        "list": ["list"],
        "show": ["show", "customer_orders"],
        "validate": ["validate"],
        "ddl": ["ddl", "orders", "--engine", "duckdb", *data],
        "cache stats": ["cache", "stats", "--cache-dir", str(tmp_path / "c")],
        "get": ["get", "customer_orders", "C00042", "C00007", "--as-of", "2026-06-30", *data],
        "note": ["note", "retention_note", "C00042", "--as-of", "2026-06-30", *data],
    }
    found = {}
    for name, args in commands.items():
        code, out, err = cli(*args, "--format", "json")
        assert code == 0, (name, err)
        found[name] = json.loads(out)
    return found


def test_every_data_command_prints_the_one_envelope(json_outputs: dict[str, dict]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    kinds = {}
    for name, doc in json_outputs.items():
        jsonschema.validate(doc, schema)
        kinds[name] = doc["kind"]
    assert kinds == {
        "list": "catalog", "show": "view", "validate": "validation", "ddl": "ddl", "cache stats": "cache_stats",
        "get": "features", "note": "notes",
    }  # fmt: skip
    assert [r["customer_id"] for r in json_outputs["get"]["rows"]] == ["C00042", "C00007"]
    assert json_outputs["get"]["provenance"]["engine"] == "duckdb"
    bounds = next(i for i in json_outputs["show"]["items"] if i["name"] == "lookback_days")
    assert (bounds["min"], bounds["max"]) == (1, 3650)


def test_envelope_schema_rejects_other_shapes() -> None:
    schema = json.loads(SCHEMA.read_text())
    for bad in ([{"customer_id": "C00042"}], {"kind": "features", "provenance": None}, {"rows": [], "provenance": {}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_csv_and_json_format_values_alike(cli, sample_dir: Path) -> None:
    import datetime as dt
    from decimal import Decimal

    assert [csv_cell(v) for v in (True, False, None, dt.date(2026, 6, 30), Decimal("1.50"), 3)] == [
        "true", "false", "", "2026-06-30", "1.5", "3",
    ]  # fmt: skip
    _, as_csv, _ = cli("validate", "--format", "csv")
    _, as_json, _ = cli("validate", "--format", "json")
    header, *lines = as_csv.strip().splitlines()
    assert header == "view,ok,error"
    assert [line.split(",")[1] for line in lines] == [str(i["ok"]).lower() for i in json.loads(as_json)["items"]]
    args = ["get", "customer_orders", "C00042", "--as-of", "2026-06-30", "--data", str(sample_dir)]
    _, got_csv, _ = cli(*args, "--format", "csv")
    _, got_jsonl, _ = cli(*args, "--format", "jsonl")
    row = json.loads(got_jsonl)
    names, values = (line.split(",") for line in got_csv.strip().splitlines())
    assert names == list(row) and values == [csv_cell(v) for v in row.values()]


def test_a_closed_pipe_ends_quietly(sample_dir: Path) -> None:
    # The reader is gone before featurekit writes a byte: every write meets a closed pipe.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATUREKIT_")}
    proc = subprocess.Popen(
        [FEATUREKIT, "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )  # fmt: skip
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and err == ""
    # And as people type it, through a shell.
    shell = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {FEATUREKIT} list | head -1"], env=env, capture_output=True, text=True
    )  # fmt: skip
    assert shell.returncode == 0 and shell.stderr == "" and shell.stdout.startswith("feature views in")


def test_ids_from_skips_header_comments_and_blank_lines(cli, sample_dir: Path, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("customer_id\n# churn-risk list\n\nC00042\n  C00007  \n")
    code, out, err = cli("get", "customer_orders", "--ids-from", ids, "--data", sample_dir, "-f", "jsonl")
    assert code == 0, err
    assert [json.loads(line)["customer_id"] for line in out.splitlines()] == ["C00042", "C00007"]


def test_ids_from_names_the_bad_line(cli, sample_dir: Path, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("C00042\n# fine\nC00042,C00007\n")
    code, out, err = cli("get", "customer_orders", "--ids-from", ids, "--data", sample_dir)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"error: --ids-from: {ids}:3: 'C00042,C00007' is not a customer ID (pattern ^C\\d{{5}}$)"
    ]


def test_ids_column_reads_csv_and_parquet(cli, sample_dir: Path, tmp_path: Path) -> None:
    table = tmp_path / "ids.csv"
    table.write_text("segment,customer_id\nvip,C00042\nvip,C00007\n")
    parquet = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"customer_id": ["C00013"], "n": [1]}), parquet)
    for source, expected in ((table, ["C00042", "C00007"]), (parquet, ["C00013"])):
        code, out, err = cli(
            "get", "customer_orders", "--ids-from", source, "--ids-column", "customer_id", "--data", sample_dir,
            "-f", "json",
        )  # fmt: skip
        assert code == 0, err
        assert [r["customer_id"] for r in json.loads(out)["rows"]] == expected
    code, _, err = cli("get", "customer_orders", "--ids-from", table, "--ids-column", "id", "--data", sample_dir)
    assert code == 2 and "line 1 has no column 'id'; it has segment, customer_id" in err


def test_athena_dry_run_shows_settings_not_methods(cli) -> None:
    code, out, err = cli("get", "customer_orders", "C00042", "--engine", "athena", "--dry-run")
    assert code == 0, err
    assert "bound method" not in out and "schema_name: default" in out


def test_show_prints_int_bounds_as_ints(cli) -> None:
    _, out, _ = cli("show", "customer_orders")
    assert "1..3650" in out and "3650.0" not in out


def test_unknown_prompt_fails_before_any_output(cli, sample_dir: Path) -> None:
    code, out, err = cli("note", "no_such_prompt", "C00042", "--data", sample_dir)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "no_such_prompt" in err


def test_bad_option_values_are_one_line(cli) -> None:
    code, _, err = cli("list", "--format", "xml")
    assert code == 2 and err.strip() == "error: --format: 'xml' is not one of 'table', 'json', 'csv', 'jsonl'."
    code, _, err = cli("get")
    assert code == 2 and err.strip() == "error: Missing argument 'view'."
