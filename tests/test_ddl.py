"""DDL and optimize: Athena DDL text (checked with sqlglot and sent to moto over HTTP), DuckDB COPY locally."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlglot
import yaml

import featurekit
from featurekit.catalog.declarations import Column, Table
from featurekit.catalog.loader import shipped_catalog
from featurekit.engines import ddl
from featurekit.errors import ConfigError
from featurekit.testing.athena import AthenaFake

ORDERS = featurekit.load().table("orders")


def test_orders_ddl_has_json_serde_and_dt_projection() -> None:
    sql = ddl.create_table(ORDERS, database="shop", data_root="s3://lake/raw/").sql
    assert sql.startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `shop`.`orders` (\n  `order_id` STRING")
    assert "`amount` DOUBLE" in sql and "`refunded` BOOLEAN" in sql
    assert "PARTITIONED BY (`dt` STRING)" in sql
    assert "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'" in sql
    assert "LOCATION 's3://lake/raw/orders/'" in sql
    for prop in (
        "'projection.enabled' = 'true'",
        "'projection.dt.type' = 'date'",
        "'projection.dt.format' = 'yyyy-MM-dd'",
        "'projection.dt.range' = '2020-01-01,NOW'",  # from the declared partition_start
        "'storage.location.template' = 's3://lake/raw/orders/dt=${dt}/'",
    ):
        assert prop in sql
    # The partition column is not repeated among the data columns (Athena rejects that).
    assert sql.count("`dt`") == 1
    sqlglot.parse_one(sql, read="athena")  # parses as Athena (Hive) DDL


def test_parquet_and_csv_formats_and_absolute_locations() -> None:
    cols = (Column(name="id", type="string"), Column(name="n", type="int"))
    parquet = ddl.create_table(
        Table(name="t", columns=cols, format="parquet", path="s3://b/p"),
        database="d",
        data_root=None,
    ).sql
    assert "STORED AS PARQUET" in parquet and "LOCATION 's3://b/p/'" in parquet and "projection" not in parquet
    csv = ddl.create_table(Table(name="t", columns=cols, format="csv", path="t"), database="d", data_root="s3://b").sql
    assert "FIELDS TERMINATED BY ','" in csv and "'skip.header.line.count' = '1'" in csv
    undeclared = replace(ORDERS, partition_start=None)
    ranged = ddl.create_table(undeclared, database="d", data_root="s3://b", today=dt.date(2026, 6, 30)).sql
    assert "'projection.dt.range' = '2023-06-30,NOW'" in ranged  # three years back when nothing is declared


def test_relative_path_without_data_root_names_the_setting() -> None:
    with pytest.raises(ConfigError) as caught:
        ddl.create_table(ORDERS, database="d", data_root=None)
    assert caught.value.setting == "data_root"


def test_ctas_then_insert_into_in_100_day_windows_with_bound_dates() -> None:
    statements = ddl.optimize_athena(
        ORDERS, database="shop", data_root="s3://lake/", start=dt.date(2024, 1, 1), end=dt.date(2024, 6, 30)
    )
    assert [s.label for s in statements] == ["ctas orders_parquet", "insert orders_parquet"]
    ctas, insert = statements
    assert ctas.sql.startswith(
        'CREATE TABLE "shop"."orders_parquet"\nWITH (format = \'PARQUET\', '
        "write_compression = 'ZSTD', external_location = 's3://lake/orders_parquet/', "
        "partitioned_by = ARRAY['dt'])"
    )
    assert ctas.sql.endswith('"refunded", "dt" FROM "shop"."orders" WHERE dt BETWEEN :start AND :end')
    assert ctas.params == {"start": "2024-01-01", "end": "2024-04-09"}
    assert insert.sql.startswith('INSERT INTO "shop"."orders_parquet"\nSELECT')
    assert insert.params == {"start": "2024-04-10", "end": "2024-06-30"}
    elsewhere = ddl.optimize_athena(
        ORDERS,
        database="shop",
        data_root="s3://lake/",
        start=dt.date(2024, 7, 1),
        end=dt.date(2024, 7, 1),
        external_location="s3://lake/orders_parquet/_staging/run1/",
        compression="SNAPPY",
    )
    assert [s.label for s in elsewhere] == ["ctas orders_parquet"]
    assert "external_location = 's3://lake/orders_parquet/_staging/run1/'" in elsewhere[0].sql


def test_setup_and_ctas_reach_athena_as_sent(athena_fake: AthenaFake) -> None:
    engine = athena_fake.engine(schema="shop", data_root="s3://lake/raw/")
    try:
        for statement in [
            ddl.create_database("shop"),
            ddl.create_table(ORDERS, database="shop", data_root="s3://lake/raw/"),
        ]:
            engine.run_statement(statement.sql, statement.params, label=statement.label)
        [ctas] = ddl.optimize_athena(
            ORDERS, database="shop", data_root="s3://lake/raw/", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31)
        )
        engine.run_statement(ctas.sql, ctas.params, label=ctas.label)
    finally:
        engine.close()
    queries = [e["Query"] for e in athena_fake.executions()]
    assert queries[0] == "CREATE DATABASE IF NOT EXISTS `shop`"
    assert queries[1].startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `shop`.`orders`")
    assert queries[2].endswith("WHERE dt BETWEEN '2024-01-01' AND '2024-01-31'")  # bound, escaped by the driver
    # moto parsed the CREATE DATABASE (it handles only that DDL), so Glue-side checks see it.
    assert athena_fake.client().get_database(CatalogName="awsdatacatalog", DatabaseName="shop")["Database"]["Name"]


def test_duckdb_optimize_writes_partitioned_parquet_that_reads_the_same(sample_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    catalog_dir = tmp_path / "catalog"
    shutil.copytree(shipped_catalog(), catalog_dir)
    with featurekit.FeatureStore(catalog_dir, data=data) as store:
        out = ddl.optimize_duckdb(store.engine, ORDERS, data / "orders_parquet")
        before = store.get("customer_orders", ["C00001", "C00002", "C00003"], as_of="2026-06-30").to_dicts()
    days = sorted(p.name for p in out.iterdir())
    assert days and all(d.startswith("dt=") for d in days)
    assert all(f.suffix == ".parquet" for d in out.iterdir() for f in d.iterdir())
    # Point the declaration at the Parquet folder: same features.
    (catalog_dir / "tables" / "orders.yaml").write_text(ddl.parquet_declaration(ORDERS, "orders_parquet", "orders"))
    with featurekit.FeatureStore(catalog_dir, data=data) as store:
        after = store.get("customer_orders", ["C00001", "C00002", "C00003"], as_of="2026-06-30").to_dicts()
    assert after == before
    declared = yaml.safe_load(ddl.parquet_declaration(ORDERS, "orders_parquet"))
    assert declared["name"] == "orders_parquet" and declared["format"] == "parquet"


def test_cli_ddl_for_athena(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATUREKIT_ATHENA_DATA_ROOT", "s3://lake/raw/")
    code, out, err = cli("ddl", "orders", "--engine", "athena")
    assert code == 0, err
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS `default`.`orders`" in out and "projection.enabled" in out
    code, out, err = cli("ddl", "ordrs", "--engine", "athena")
    assert code == 2 and "did you mean 'orders'" in err and err.count("\n") == 1


def test_cli_ddl_without_data_root_is_one_line(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEATUREKIT_ATHENA_DATA_ROOT", raising=False)
    code, _, err = cli("ddl", "orders", "--engine", "athena")
    assert code == 2 and "data_root" in err and err.count("\n") == 1


def test_cli_optimize_locally(cli: Any, sample_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    code, out, err = cli("optimize", "orders", "--data", str(data))
    assert code == 0, err
    assert (data / "orders_parquet").is_dir() and "format: parquet" in out


def test_cli_setup_on_athena(athena_fake: AthenaFake, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {
        "S3_STAGING_DIR": "s3://featurekit-results/athena/",
        "ENDPOINT_URL": athena_fake.endpoint,
        "POLL_INTERVAL": "0.01",
        "DATA_ROOT": "s3://lake/raw/",
        "SCHEMA": "shop",
    }.items():
        monkeypatch.setenv(f"FEATUREKIT_ATHENA_{k}", v)
    code, _, err = cli("setup", "--engine", "athena")
    assert code == 0, err
    queries = [e["Query"] for e in athena_fake.executions()]
    assert queries[0] == "CREATE DATABASE IF NOT EXISTS `shop`"
    assert any(q.startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `shop`.`orders`") for q in queries)


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_glue_registration_gives_the_table_the_ddl_describes(
    athena_fake: AthenaFake, cli, tmp_path: Path, fmt: str
) -> None:
    """`setup --via glue` over moto's Glue: the stored table is the DDL's definition, field by field."""
    import boto3

    from featurekit.testing.athena import REGION

    table = replace(ORDERS, format=fmt)
    d = ddl.definition(table, database="shop", data_root="s3://lake/raw/")
    glue = boto3.client("glue", region_name=REGION, endpoint_url=athena_fake.moto_endpoint)
    assert ddl.register_in_glue(glue, d) == "created"
    assert ddl.register_in_glue(glue, d) == "updated"  # a second run is safe
    stored = glue.get_table(DatabaseName="shop", Name="orders")["Table"]
    sd = stored["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [(n, t.lower()) for n, t, _ in d.columns]
    assert [(c["Name"], c["Type"]) for c in stored["PartitionKeys"]] == [(n, t.lower()) for n, t in d.partitions]
    assert sd["Location"] == d.location == "s3://lake/raw/orders/"
    assert {k: v for k, v in stored["Parameters"].items() if k not in ("EXTERNAL", "classification")} == d.properties
    # The DDL path states the same: every column, partition key, SerDe and table property appears in it.
    sql = ddl.create_table(table, database="shop", data_root="s3://lake/raw/").sql
    for name, hive_type, _ in d.columns:
        assert f"`{name}` {hive_type}" in sql
    for key, value in d.properties.items():
        assert f"'{key}' = '{value}'" in sql
    serde = sd["SerdeInfo"]["SerializationLibrary"]
    assert serde in sql or {"csv": "DELIMITED", "parquet": "STORED AS PARQUET"}[fmt] in sql


def test_cli_setup_via_glue(athena_fake: AthenaFake, cli, tmp_path: Path) -> None:
    from featurekit.testing.athena import BUCKET, REGION

    profile = tmp_path / "featurekit.yaml"
    profile.write_text(
        "default: t\nprofiles:\n  t:\n    engine: athena\n"
        f"    region: {REGION}\n    endpoint_url: {athena_fake.moto_endpoint}\n"
        f"    s3_staging_dir: s3://{BUCKET}/athena/\n    data_root: s3://{BUCKET}/lake/\n    schema: shop\n"
    )
    code, out, err = cli("setup", "--via", "glue", "--profile-file", profile)
    assert code == 0, err
    assert "glue table shop.orders: created" in out
    assert athena_fake.calls("StartQueryExecution") == []  # no Athena DDL was run
    code, _, err = cli("setup", "--via", "crawler", "--profile-file", profile)
    assert code == 2 and "--via" in err
