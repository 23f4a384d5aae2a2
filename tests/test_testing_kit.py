"""featurekit.testing as a user meets it: a catalog of their own, in a temp folder, tested on the Athena path with
nothing but the shipped kit (no import from this project's tests/)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import featurekit
from featurekit.errors import QueryError
from featurekit.testing.athena import athena_server

DEVICE_TABLE = """\
name: readings
description: Sensor readings, one CSV line each.
format: csv
path: readings
columns:
  - {name: device_id, type: string, description: Device}
  - {name: reading_day, type: date, description: Day of the reading}
  - {name: celsius, type: float, description: Temperature}
  - {name: ok, type: bool, description: Self-test passed}
"""
DEVICE_ENTITY = """\
name: device
description: A sensor.
key: device_id
pattern: '^D\\d{3}$'
"""
DEVICE_VIEW = """\
name: device_health
entity: device
description: Health of a device up to as_of.
features:
  - {name: readings, type: int, default: 0, description: Readings up to as_of}
  - {name: max_celsius, type: float, description: Hottest reading}
  - {name: last_day, type: date, description: Latest reading day}
  - {name: all_ok, type: bool, description: Every self-test passed}
"""
DEVICE_SQL = """\
SELECT device_id, count(*) AS readings, max(celsius) AS max_celsius, max(reading_day) AS last_day,
       bool_and(ok) AS all_ok
FROM {{ table('readings') }}
WHERE device_id IN :entity_ids AND reading_day <= :as_of
GROUP BY device_id
"""


def write_catalog(root: Path) -> tuple[Path, Path]:
    catalog, data = root / "catalog", root / "data"
    for sub, name, text in [
        ("tables", "readings.yaml", DEVICE_TABLE),
        ("entities", "device.yaml", DEVICE_ENTITY),
        ("views", "device_health.yaml", DEVICE_VIEW),
        ("views", "device_health.sql", DEVICE_SQL),
    ]:
        (catalog / sub).mkdir(parents=True, exist_ok=True)
        (catalog / sub / name).write_text(text)
    (data / "readings").mkdir(parents=True)
    (data / "readings" / "part-0.csv").write_text(
        "device_id,reading_day,celsius,ok\n"
        "D001,2026-01-01,20.5,true\nD001,2026-01-03,31.25,false\nD001,2026-02-01,99.0,true\n"
        "D002,2026-01-02,18.0,true\n"
    )
    return catalog, data


def test_a_user_catalog_on_the_athena_path(tmp_path: Path) -> None:
    catalog, data = write_catalog(tmp_path)
    with (
        athena_server(catalog, data) as athena,
        featurekit.FeatureStore(catalog, engine=athena.engine(), cache=False) as store,
    ):
        frame = store.get("device_health", ["D001", "D002", "D999"], as_of="2026-01-31")
        assert [r["readings"] for r in frame] == [2, 1, 0]
        d1, d2, d999 = frame
        assert d1["max_celsius"] == 31.25 and d1["last_day"] == dt.date(2026, 1, 3) and d1["all_ok"] is False
        assert d2["all_ok"] is True and d999["last_day"] is None
        # It really went to Athena: one query started over HTTP, its text in Athena SQL with the Glue database.
        (start,) = athena.calls("StartQueryExecution")
        assert '"default"."readings"' in start["QueryString"]
        # The same answer as the DuckDB engine over the same files: the Athena path decodes Athena's types.
        with featurekit.FeatureStore(catalog, data=data, cache=False) as local:
            here = local.get("device_health", ["D001", "D002", "D999"], as_of="2026-01-31")
            assert here.to_arrow() == frame.to_arrow()


def test_a_query_duckdb_cannot_run_fails_as_athena_would(tmp_path: Path) -> None:
    catalog, data = write_catalog(tmp_path)
    # Valid to `featurekit validate` (which now refuses an unknown column before anything runs), but it fails
    # at run time: 'D001' is no number, as Athena's INVALID_CAST_ARGUMENT would say.
    broken = DEVICE_SQL.replace("max(celsius)", "max(CAST(device_id AS double))", 1)
    (catalog / "views" / "device_health.sql").write_text(broken)
    with (
        athena_server(catalog, data) as athena,
        featurekit.FeatureStore(catalog, engine=athena.engine(), cache=False) as store,
        pytest.raises(QueryError, match=r"featurekit\.testing \(DuckDB\): .*'D001'"),
    ):
        store.get("device_health", "D001", as_of="2026-01-31")


def test_the_pytest_plugin_fixtures_in_a_users_project(tmp_path: Path) -> None:
    """A user's own test file, run by pytest in a subprocess: the fixtures come from the installed entry point."""
    write_catalog(tmp_path)
    (tmp_path / "test_mine.py").write_text(
        textwrap.dedent(
            """
            import featurekit
            from featurekit.testing.bedrock import text_reply, stream_reply

            def test_athena(featurekit_athena):
                featurekit_athena.compute_on_duckdb("catalog", "data")
                with featurekit.FeatureStore("catalog", engine=featurekit_athena.engine(), cache=False) as store:
                    assert store.get("device_health", "D002", as_of="2026-01-31")["readings"] == 1

            def test_converse(featurekit_converse):
                import boto3
                featurekit_converse.reply(text_reply("hello"), stream_reply(["he", "llo"]))
                client = boto3.client("bedrock-runtime", region_name="us-east-1",
                                      endpoint_url=featurekit_converse.url,
                                      aws_access_key_id="x", aws_secret_access_key="x")
                msg = [{"role": "user", "content": [{"text": "hi"}]}]
                out = client.converse(modelId="m", messages=msg)
                assert out["output"]["message"]["content"][0]["text"] == "hello"
                events = client.converse_stream(modelId="m", messages=msg)["stream"]
                text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
                assert text == "hello"
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "test_mine.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
