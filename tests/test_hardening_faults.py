"""Hardening (issue 7): faults become typed errors, and nothing wrong is cached.

Bedrock faults, and features surviving an LLM failure, are covered in tests/test_bedrock.py.

DuckDB: missing and empty data folders, corrupt and truncated Parquet, Parquet with another schema,
malformed, mistyped, pretty-printed and binary JSON lines. Each gives a DataError or QueryError that
names the table or the file; after the data is repaired the same store answers correctly (no error and
no partial result was cached).

Athena (over moto, through the recording proxy of src/featurekit/testing/athena.py, with one more small
proxy in front that answers chosen operations with an AWS error): AccessDenied, 5xx, a missing
result object, and throttling of the polling and result calls. FAILED, CANCELLED, timeout and
throttled StartQueryExecution are covered in tests/test_athena.py and not repeated here.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import featurekit
from featurekit.engines.files import SchemaMismatchWarning
from featurekit.errors import DataError, FeaturekitError, QueryError
from featurekit.sample import write_sample
from featurekit.testing.athena import C42, COLUMNS, AthenaFake
from tests.conftest import AS_OF
from tests.hardening_support import immediate, tried
from tests.oracle import customer_orders, read_orders

IDS = ["C00042", "C00007", "C00013", "C00099"]


def last_file(folder: Path, pattern: str) -> Path:
    return sorted((folder / "orders").rglob(pattern))[-1]


def first_file(folder: Path, pattern: str) -> Path:
    return sorted((folder / "orders").rglob(pattern))[0]


def append_line(text: str) -> Callable[[Path], Path]:
    def damage(folder: Path) -> Path:
        f = last_file(folder, "*.json")
        f.write_text(f.read_text() + text)
        return f

    return damage


def replace_last(content: bytes, pattern: str = "*.json") -> Callable[[Path], Path]:
    def damage(folder: Path) -> Path:
        f = last_file(folder, pattern)
        f.write_bytes(content)
        return f

    return damage


def remove_folder(folder: Path) -> Path:
    shutil.rmtree(folder / "orders")
    return folder / "orders"


def empty_folder(folder: Path) -> Path:
    shutil.rmtree(folder / "orders")
    (folder / "orders" / "dt=2026-06-30").mkdir(parents=True)
    return folder / "orders"


def corrupt_first_parquet(folder: Path) -> Path:
    f = first_file(folder, "*.parquet")
    f.write_bytes(b"not parquet at all")
    return f


def truncate_parquet(folder: Path) -> Path:
    f = last_file(folder, "*.parquet")
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2] + data[-8:])  # the footer magic survives, the footer does not
    return f


def other_schema_parquet(folder: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = last_file(folder, "*.parquet")
    pq.write_table(pa.table({"order_id": ["x"], "customer_id": [42]}), f)
    return f


JSON_CASES: list[tuple[str, Callable[[Path], Path], type[FeaturekitError], str]] = [
    ("missing-folder", remove_folder, DataError, "does not exist"),
    ("empty-folder", empty_folder, DataError, "has no .json, .csv or .parquet files"),
    ("truncated-json-line", append_line('{"order_id": "x", "customer_id": \n'), QueryError, "Malformed JSON"),
    (
        "mistyped-json",
        replace_last(
            b'{"order_id": 1, "customer_id": "C00042", "order_date": "2026-06-30", '
            b'"category": "x", "amount": "abc", "refunded": "maybe"}\n'
        ),
        QueryError,
        "",
    ),
    # Its one parseable line lacks the declared columns: the column check names the file first.
    ("pretty-printed-json", replace_last(b'[\n  {"order_id": "1"}\n]\n'), DataError, "part-0.json lacks"),
    ("binary-file", replace_last(b"\xff\xfe\x00\x01binary"), QueryError, ""),
]
PARQUET_CASES: list[tuple[str, Callable[[Path], Path], type[FeaturekitError], str]] = [
    ("corrupt-first-parquet", corrupt_first_parquet, DataError, "cannot read its files"),
    ("not-parquet", replace_last(b"PAR1garbage", "*.parquet"), QueryError, "too small to be a Parquet file"),
    ("truncated-parquet", truncate_parquet, QueryError, ""),
    ("other-schema-parquet", other_schema_parquet, QueryError, "schema mismatch"),
    ("missing-parquet-folder", remove_folder, DataError, "does not exist"),
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pristine")
    write_sample(root / "json", customers=60, orders=400, as_of=AS_OF)
    write_sample(root / "parquet", customers=60, orders=400, as_of=AS_OF, fmt="parquet")
    return {"json": root / "json", "parquet": root / "parquet"}


@pytest.fixture(scope="module")
def oracle(pristine: dict[str, Path]) -> dict[str, dict[str, Any]]:
    return customer_orders(read_orders(pristine["json"]), AS_OF)


def parquet_catalog() -> featurekit.Catalog:
    catalog = featurekit.load()
    tables = dict(catalog.tables)
    tables["orders"] = replace(tables["orders"], format="parquet")
    return replace(catalog, tables=tables)


def check_against_oracle(frame: Any, oracle: dict[str, dict[str, Any]]) -> None:
    for row in frame.to_dicts():
        want = oracle.get(row["customer_id"])
        assert row["order_count"] == (want["order_count"] if want else 0), row
        assert row["total_spend"] == pytest.approx(want["total_spend"] if want else 0.0), row


@pytest.mark.parametrize(
    ("fmt", "case", "damage", "error", "says"),
    [("json", *c) for c in JSON_CASES] + [("parquet", *c) for c in PARQUET_CASES],
    ids=[c[0] for c in JSON_CASES] + [c[0] for c in PARQUET_CASES],
)
def test_duckdb_data_faults_are_typed_and_not_cached(
    tmp_path: Path, pristine: dict[str, Path], oracle: Any, fmt: str, case: str, damage: Any, error: Any, says: str
) -> None:
    tried("faults: DuckDB data")
    folder = tmp_path / "data"
    shutil.copytree(pristine[fmt], folder)
    where = damage(folder)
    catalog = parquet_catalog() if fmt == "parquet" else featurekit.load()
    with featurekit.FeatureStore(catalog, data=folder) as store:
        for _ in range(2):  # the second attempt fails the same way: the failure was not remembered as an answer
            with pytest.raises(error) as caught:
                store.get_frame("customer_orders", IDS, as_of=AS_OF)
            message = str(caught.value)
            assert type(caught.value) is error, f"{type(caught.value).__name__}: {message}"
            assert says in message and "\n" not in message
            assert "'orders'" in message or where.name in message, message  # names the table or the file
        # Repair the data: the same store now answers, by running the query, with the right rows.
        shutil.rmtree(folder / "orders", ignore_errors=True)
        shutil.copytree(pristine[fmt] / "orders", folder / "orders")
        frame = store.get_frame("customer_orders", IDS, as_of=AS_OF)
        assert frame.provenance.cache_hits == 0 and frame.provenance.queries_run == 1
        check_against_oracle(frame, oracle)


def test_cli_data_faults_are_one_line_without_traceback(cli: Any, tmp_path: Path, pristine: dict[str, Path]) -> None:
    tried("faults: DuckDB data through the CLI")
    folder = tmp_path / "data"
    shutil.copytree(pristine["json"], folder)
    append_line("{not json\n")(folder)
    code, out, err = cli("get", "customer_orders", "C00042", "--as-of", AS_OF.isoformat(), "--data", folder)
    assert code == 1 and "Traceback" not in out + err
    [line] = err.strip().splitlines()
    assert line.startswith("error: view 'customer_orders' failed on duckdb: ") and "Malformed JSON" in line


# -- Athena: AWS errors on chosen operations -----------------------------------------------------

ATHENA_AS_OF = "2024-05-01"


@dataclass
class Faults:
    """operation -> (HTTP status, error code, message, how many more times)."""

    rules: dict[str, list[Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, operation: str) -> tuple[int, str, str] | None:
        with self.lock:
            rule = self.rules.get(operation)
            if not rule or rule[3] <= 0:
                return None
            rule[3] -= 1
            return rule[0], rule[1], rule[2]


def _fault_proxy(upstream: str, faults: Faults) -> ThreadingHTTPServer:
    import http.client
    from urllib.parse import urlsplit

    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
            fault = faults.take(operation)
            if fault is not None:
                status, code, message = fault
                data = json.dumps({"__type": code, "Message": message}).encode()
                headers = {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.1"}
            else:
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                sent = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                conn.request("POST", self.path, body=body, headers=sent)
                response = conn.getresponse()
                status, data = response.status, response.read()
                headers = {"Content-Type": response.getheader("Content-Type", "application/x-amz-json-1.1")}
                conn.close()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def faulty(athena_fake: AthenaFake) -> Iterator[tuple[AthenaFake, Faults, featurekit.FeatureStore]]:
    immediate(athena_fake)
    faults = Faults()
    server = _fault_proxy(athena_fake.endpoint, faults)
    engine = athena_fake.engine(endpoint_url=f"http://127.0.0.1:{server.server_address[1]}")
    with featurekit.FeatureStore(engine=engine) as store:
        yield athena_fake, faults, store
    server.shutdown()


ATHENA_FAULTS = [
    (
        "access-denied-start",
        "StartQueryExecution",
        400,
        "AccessDeniedException",
        "User: arn:aws:iam::1:user/x is not authorized to perform: athena:StartQueryExecution",
    ),
    (
        "access-denied-results",
        "GetQueryResults",
        400,
        "AccessDeniedException",
        "Access denied when writing output to url: s3://featurekit-results/athena/",
    ),
    ("internal-error-start", "StartQueryExecution", 500, "InternalServerException", "Internal error"),
    ("internal-error-poll", "GetQueryExecution", 500, "InternalServerException", "Internal error"),
    ("unavailable-results", "GetQueryResults", 503, "ServiceUnavailableException", "Service unavailable"),
    (
        "missing-result-object",
        "GetQueryResults",
        400,
        "InvalidRequestException",
        "Unable to read the query result: s3://featurekit-results/athena/x.csv (NoSuchKey)",
    ),
    ("throttled-results", "GetQueryResults", 400, "ThrottlingException", "Rate exceeded"),
]


@pytest.mark.parametrize(
    ("case", "operation", "status", "code", "message"), ATHENA_FAULTS, ids=[f[0] for f in ATHENA_FAULTS]
)
def test_athena_aws_errors_are_typed_one_line_and_not_cached(
    faulty: Any, case: str, operation: str, status: int, code: str, message: str
) -> None:
    tried("faults: Athena AWS errors")
    fake, faults, store = faulty
    faults.rules[operation] = [status, code, message, 1_000]
    fake.inject(COLUMNS, C42)
    with pytest.raises(QueryError) as caught:
        store.get("customer_orders", "C00042", as_of=ATHENA_AS_OF)
    error = caught.value
    assert code in str(error) and "\n" not in str(error), str(error)
    assert error.reason is not None and code in error.reason
    if operation != "StartQueryExecution":
        started = fake.calls("StartQueryExecution")[-1:]
        assert started and error.query_id, "a fault after the start must carry the query ID"
    starts = len(fake.calls("StartQueryExecution"))
    # The fault clears: the same store runs the query again and returns the right row.
    faults.rules.clear()
    fake.inject(COLUMNS, C42)
    row = store.get("customer_orders", "C00042", as_of=ATHENA_AS_OF)
    assert row["order_count"] == 3 and row.provenance.cache_hits == 0
    assert len(fake.calls("StartQueryExecution")) == starts + 1


def test_athena_features_survive_a_transient_error_in_a_batch(faulty: Any) -> None:
    """One failed lookup does not poison other entities' cache entries or later lookups."""
    tried("faults: Athena AWS errors")
    fake, faults, store = faulty
    fake.inject(COLUMNS, C42)
    assert store.get("customer_orders", "C00042", as_of=ATHENA_AS_OF)["order_count"] == 3
    faults.rules["StartQueryExecution"] = [500, "InternalServerException", "Internal error", 1_000]
    with pytest.raises(QueryError):
        store.get("customer_orders", ["C00042", "C00043"], as_of=ATHENA_AS_OF)
    faults.rules.clear()
    # C00042 is still a cache hit; C00043 is queried afresh.
    fake.inject(COLUMNS, ("C00043", 1, 20.0, 20.0, "2024-03-01", 0.0, "toys", 61))
    frame = store.get("customer_orders", ["C00042", "C00043"], as_of=ATHENA_AS_OF)
    assert [r["order_count"] for r in frame.to_dicts()] == [3, 1]
    assert frame.provenance.cache_hits == 1 and frame.provenance.queries_run == 1


# -- the disk cache ------------------------------------------------------------------------------


@pytest.mark.parametrize("junk", [b"this is not sqlite" * 100, b""], ids=["garbage", "empty"])
def test_a_corrupt_disk_cache_is_a_config_error_naming_the_file(
    tmp_path: Path, sample_dir: Path, cli: Any, junk: bytes
) -> None:
    from featurekit.cache import DISK_FILE
    from featurekit.errors import ConfigError

    tried("faults: disk cache")
    (tmp_path / DISK_FILE).write_bytes(junk)
    if not junk:  # an empty file is a valid, empty SQLite database: the cache just works
        with featurekit.FeatureStore(data=sample_dir, cache_dir=tmp_path) as store:
            assert store.get("customer_orders", "C00042", as_of=AS_OF)["order_count"] >= 0
        return
    with pytest.raises(ConfigError) as caught:
        featurekit.FeatureStore(data=sample_dir, cache_dir=tmp_path)
    assert caught.value.setting == "cache_dir" and DISK_FILE in str(caught.value) and "\n" not in str(caught.value)
    code, out, err = cli("get", "customer_orders", "C00042", "--data", sample_dir, "--cache-dir", tmp_path)
    assert code == 2 and "Traceback" not in out + err
    [line] = err.strip().splitlines()
    assert line.startswith("error: cache_dir: ") and "delete it or pick another folder" in line


# -- issue 12.2: column sets, partition folders and hidden files, as Athena reads them ------------------------


def rename_key(old: str, new: str) -> Callable[[Path], Path]:
    def damage(folder: Path) -> Path:
        target = last_file(folder, "*.json")
        target.write_text(target.read_text().replace(f'"{old}"', f'"{new}"'))
        return target

    return damage


def add_folder(name: str) -> Callable[[Path], Path]:
    def damage(folder: Path) -> Path:
        source = last_file(folder, "*.json")
        target = folder / "orders" / name / "part-0.json"
        target.parent.mkdir(parents=True)
        shutil.copy(source, target)
        return target.parent

    return damage


LAYOUT_CASES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("renamed-column", rename_key("amount", "amount_usd"), r"lacks \['amount'\] and has undeclared \['amount_usd'\]"),
    (
        "missing-column",
        append_line('{"order_id":"O9","customer_id":"C00042","order_date":"2026-06-30","category":"x","amount":1.0}\n'),
        r"lacks \['refunded'\]",
    ),
    (
        "undeclared-column",
        append_line(
            '{"order_id":"O9","customer_id":"C00042","order_date":"2026-06-30",'
            '"category":"x","amount":1.0,"refunded":false,"coupon":"X"}\n'
        ),
        r"has undeclared \['coupon'\]",
    ),
    (
        "unparsable-dt-folder",
        add_folder("dt=20260620"),
        r"partition folder .*dt=20260620 does not parse as dt=<string>",
    ),
    ("impossible-dt-folder", add_folder("dt=2026-02-30"), r"dt=2026-02-30 does not parse"),
    ("foreign-folder", add_folder("region=eu"), r"region=eu does not parse"),
]


@pytest.mark.parametrize(("case", "damage", "says"), LAYOUT_CASES, ids=[c[0] for c in LAYOUT_CASES])
def test_json_column_and_partition_faults_name_the_file(
    tmp_path: Path, pristine: dict[str, Path], case: str, damage: Any, says: str
) -> None:
    tried("faults: columns and partition folders")
    folder = tmp_path / "data"
    shutil.copytree(pristine["json"], folder)
    where = damage(folder)
    with featurekit.FeatureStore(data=folder, cache=False) as store, pytest.raises(DataError, match=says) as caught:
        store.get_frame("customer_orders", IDS, as_of=AS_OF)
    assert str(where) in str(caught.value) and "\n" not in str(caught.value)


def test_schema_mismatch_policy_warn_counts_files_and_reads_nulls(tmp_path: Path, pristine: dict[str, Path]) -> None:
    tried("faults: columns and partition folders")
    folder = tmp_path / "data"
    shutil.copytree(pristine["json"], folder)
    rename_key("amount", "amount_usd")(folder)
    catalog = featurekit.load()
    tables = dict(catalog.tables)
    tables["orders"] = replace(tables["orders"], on_schema_mismatch="warn")
    warned = pytest.warns(SchemaMismatchWarning, match=r"lacks \['amount'\].*; 1 of \d+ files differ")
    with featurekit.FeatureStore(replace(catalog, tables=tables), data=folder, cache=False) as store, warned:
        frame = store.get_frame("customer_orders", IDS, as_of=AS_OF)
    assert len(frame.to_dicts()) == len(IDS)


def test_csv_header_faults_name_the_file(tmp_path: Path) -> None:
    tried("faults: columns and partition folders")
    folder = tmp_path / "orders" / "dt=2026-06-30"
    folder.mkdir(parents=True)
    (folder / "part-0.csv").write_text(
        "order_id,customer_id,order_date,category,amount_usd,refunded\nO1,C00042,2026-06-30,x,1.5,false\n"
    )
    catalog = featurekit.load()
    tables = dict(catalog.tables)
    tables["orders"] = replace(tables["orders"], format="csv")
    refused = pytest.raises(DataError, match=r"part-0\.csv lacks \['amount'\] and has undeclared \['amount_usd'\]")
    with featurekit.FeatureStore(replace(catalog, tables=tables), data=tmp_path, cache=False) as store, refused:
        store.get("customer_orders", "C00042", as_of=AS_OF)


HIDDEN = ["._part-0.json", ".part-0.json.crc", "_SUCCESS", "_temporary/part-9.json", ".hidden/part-9.json", "_x.json"]


def test_hidden_and_marker_files_are_ignored_as_athena_does(
    tmp_path: Path, pristine: dict[str, Path], oracle: Any
) -> None:
    tried("faults: hidden and marker files", len(HIDDEN))
    folder = tmp_path / "data"
    shutil.copytree(pristine["json"], folder)
    day = last_file(folder, "*.json").parent
    for name in HIDDEN:
        target = day / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"\x00\x05Mac OS X garbage, not JSON\xff")
    (folder / "orders" / "_SUCCESS").write_text("")
    with featurekit.FeatureStore(data=folder, cache=False) as store:
        check_against_oracle(store.get_frame("customer_orders", IDS, as_of=AS_OF), oracle)


def test_new_and_changed_files_are_read_again(tmp_path: Path, pristine: dict[str, Path]) -> None:
    tried("faults: files changing under a store")
    folder = tmp_path / "data"
    shutil.copytree(pristine["json"], folder)
    with featurekit.FeatureStore(data=folder, cache=False) as store:
        before = store.get("customer_orders", "C00042", as_of=AS_OF)["order_count"]
        new = folder / "orders" / f"dt={AS_OF.isoformat()}" / "part-1.json"
        new.parent.mkdir(parents=True, exist_ok=True)
        new.write_text(
            '{"order_id":"O9","customer_id":"C00042","order_date":"2026-06-30","category":"x","amount":1.0,'
            '"refunded":false}\n'
        )
        assert store.get("customer_orders", "C00042", as_of=AS_OF)["order_count"] == before + 1
        new.unlink()
        assert store.get("customer_orders", "C00042", as_of=AS_OF)["order_count"] == before
