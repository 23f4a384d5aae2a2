"""`featurekit init` and the published JSON Schema: what a user scaffolds must work, and what editors validate
against must agree with the loader."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from featurekit.catalog import loader as catalog_mod
from featurekit.catalog.scaffold import KIND_NAMES, schema_documents, schema_text
from featurekit.sample import write_sample

REPO = Path(__file__).resolve().parents[1]
FEATUREKIT = str(Path(sys.executable).with_name("featurekit"))


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it, without any FEATUREKIT_* settings from the outer shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATUREKIT_")}
    return subprocess.run([FEATUREKIT, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_init_then_validate_then_get_on_sample_data(tmp_path: Path) -> None:
    made = run("init", "my-catalog", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "featurekit validate --catalog my-catalog" in made.stdout  # next steps name the folder just made
    assert (tmp_path / "my-catalog" / "README.md").is_file()
    first_line = (tmp_path / "my-catalog" / "views" / "customer_orders.yaml").read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../schema/view.schema.json"
    assert (tmp_path / "my-catalog" / "schema" / "view.schema.json").is_file()

    checked = run("validate", "--catalog", "my-catalog", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    write_sample(tmp_path / "data", as_of=dt.date(2026, 6, 30))
    got = run(
        "get", "customer_orders", "C00042", "--catalog", "my-catalog", "--data", "data", "--as-of", "2026-06-30",
        "--format", "json", cwd=tmp_path,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    row = json.loads(got.stdout)["rows"][0]
    assert row["customer_id"] == "C00042" and row["order_count"] > 0


def test_scaffolded_catalog_is_the_users_to_edit(tmp_path: Path) -> None:
    # The copy is independent of the shipped catalog: a change in it shows up in a load of it.
    assert run("init", "cat", cwd=tmp_path).returncode == 0
    view = tmp_path / "cat" / "views" / "customer_orders.yaml"
    view.write_text(view.read_text().replace("owner: growth-analytics", "owner: my-team"))
    assert catalog_mod.load(tmp_path / "cat").view("customer_orders").owner == "my-team"
    assert catalog_mod.load().view("customer_orders").owner == "growth-analytics"


@pytest.mark.parametrize("existing", ["file", "not-a-dir"])
def test_init_refuses_to_overwrite(tmp_path: Path, existing: str) -> None:
    target = tmp_path / "taken"
    if existing == "file":
        target.mkdir()
        (target / "notes.txt").write_text("mine")
    else:
        target.write_text("a file, not a folder")
    result = run("init", "taken", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: taken:")
    if existing == "file":
        assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
        assert (target / "notes.txt").read_text() == "mine"


def test_init_into_an_empty_folder_is_fine(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert run("init", "empty", cwd=tmp_path).returncode == 0
    assert (tmp_path / "empty" / "tables" / "orders.yaml").is_file()


def test_committed_schema_files_match_the_loader() -> None:
    # Editors validate against schema/*.json; if a declaration field changes, these must be regenerated.
    documents = schema_documents()
    committed = sorted(p.name for p in (REPO / "schema").glob("*.schema.json"))
    assert committed == sorted(documents), "regenerate with: featurekit schema --out schema"
    for name, document in documents.items():
        assert (REPO / "schema" / name).read_text() == schema_text(document), (
            f"schema/{name} is stale; regenerate with: featurekit schema --out schema"
        )


def test_schema_command_prints_the_published_file(tmp_path: Path) -> None:
    printed = run("schema", "view", cwd=tmp_path)
    assert printed.returncode == 0
    assert json.loads(printed.stdout) == json.loads((REPO / "schema" / "view.schema.json").read_text())
    everything = json.loads(run("schema", cwd=tmp_path).stdout)
    assert sorted(everything) == sorted(f"{k}.schema.json" for k in KIND_NAMES.values())
    wrong = run("schema", "veiw", cwd=tmp_path)
    assert wrong.returncode == 2 and "did you mean 'view'" in wrong.stderr


def test_shipped_catalog_validates_against_the_schema() -> None:
    documents = schema_documents()
    root = catalog_mod.shipped_catalog()
    checked = 0
    for folder, kind in KIND_NAMES.items():
        for file in sorted((root / folder).glob("*.yaml")):
            jsonschema.validate(yaml.safe_load(file.read_text()), documents[f"{kind}.schema.json"])
            checked += 1
    assert checked >= 4


def test_schema_rejects_what_the_loader_rejects() -> None:
    view = schema_documents()["view.schema.json"]
    good = {"name": "v", "entity": "customer", "features": [{"name": "n", "type": "int"}]}
    jsonschema.validate(good, view)
    for bad in (
        {**good, "featurs": []},  # a misspelt field: the loader reports "unknown field"
        {**good, "features": [{"name": "n", "type": "integer"}]},  # not a declared type
        {**good, "name": "Bad-Name"},  # not an identifier
        {k: v for k, v in good.items() if k != "entity"},  # required field missing
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, view)


def test_init_empty_is_a_valid_skeleton_with_next_steps(tmp_path: Path) -> None:
    made = run("init", "--empty", "mine", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "created catalog mine: 0 tables, 0 entities, 0 views, 0 prompts" in made.stdout
    assert "featurekit validate --catalog mine" in made.stdout and "customer_orders" not in made.stdout
    for kind in ("tables", "entities", "views", "prompts"):
        assert (tmp_path / "mine" / kind).is_dir() and not any((tmp_path / "mine" / kind).iterdir())
    assert (tmp_path / "mine" / "schema" / "view.schema.json").is_file()
    checked = run("validate", "--catalog", "mine", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "0 tables, 0 entities, 0 views, 0 prompts" in checked.stdout
    # A folder that is not a catalog at all is still refused, not taken for an empty one.
    (tmp_path / "not-a-catalog").mkdir()
    refused = run("validate", "--catalog", "not-a-catalog", cwd=tmp_path)
    assert refused.returncode == 2 and "no declarations found" in refused.stderr
