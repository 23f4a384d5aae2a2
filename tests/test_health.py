"""`featurekit doctor`: a planted small-file partition is found, locally and on S3 (moto), and nothing else is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import featurekit
from featurekit.engines import health
from featurekit.testing.athena import BUCKET, REGION, AthenaFake

DAY = "dt=2026-06-20"


@pytest.fixture
def planted(sample_dir: Path, tmp_path: Path) -> Path:
    """The sample data plus one day that an event feed wrote as 40 tiny files, and hidden files Athena skips."""
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    day = data / "orders" / DAY
    day.mkdir(exist_ok=True)
    for i in range(40):
        (day / f"event-{i:03}.json").write_text(
            json.dumps(
                {
                    "order_id": f"E{i}",
                    "customer_id": "C00042",
                    "order_date": "2026-06-20",
                    "category": "books",
                    "amount": 1.0,
                    "refunded": False,
                }
            )
            + "\n"
        )
    for hidden in ("_SUCCESS", ".part.crc"):
        (data / "orders" / "dt=2026-06-21").mkdir(exist_ok=True)
        (data / "orders" / "dt=2026-06-21" / hidden).write_text("")
    return data


def test_doctor_finds_the_planted_partition_only(planted: Path, cli) -> None:
    code, out, err = cli("doctor", "orders", "--data", planted, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert [f["partition"] for f in report["flagged"]] == [DAY]
    [flag] = report["flagged"]
    files_on_disk = len(list((planted / "orders" / DAY).glob("*.json")))
    assert flag["files"] == files_on_disk >= 40 and flag["compacted_files"] == 1
    assert report["files"] - report["files_after_compaction"] == files_on_disk - 1
    code, out, _ = cli("doctor", "orders", "--data", planted)
    assert f"{DAY}: {files_on_disk} files under 128 MB" in out and "featurekit load orders" in out


def test_doctor_on_healthy_sample(sample_dir: Path, cli) -> None:
    code, out, err = cli("doctor", "orders", "--data", sample_dir)
    assert code == 0, err
    assert "healthy" in out


def test_oversized_file_is_flagged() -> None:
    result = health.diagnose("t", "s3://b/t/", [("dt=2026-01-01/a.json", 1_500_000_000), ("dt=2026-01-02/b.json", 10)])
    assert [(p.partition, p.problem) for p in result.flagged] == [("dt=2026-01-01", "1 file over 1,000 MB")]


def test_doctor_on_s3_over_moto(athena_fake: AthenaFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> None:
    import boto3

    s3 = boto3.client("s3", region_name=REGION, endpoint_url=athena_fake.moto_endpoint)
    for i in range(12):
        s3.put_object(Bucket=BUCKET, Key=f"lake/orders/{DAY}/part-{i}.json", Body=b"{}\n" * (i + 1))
    s3.put_object(Bucket=BUCKET, Key="lake/orders/dt=2026-06-21/part-0.json", Body=b"{}\n")
    s3.put_object(Bucket=BUCKET, Key="lake/orders/_staging/x/dt=2026-06-21/part-0.json", Body=b"{}\n")
    profile = tmp_path / "featurekit.yaml"
    profile.write_text(
        "default: test\nprofiles:\n  test:\n    engine: athena\n"
        f"    region: {REGION}\n    endpoint_url: {athena_fake.endpoint}\n"
        f"    s3_staging_dir: s3://{BUCKET}/athena/\n    data_root: s3://{BUCKET}/lake/\n"
    )
    code, out, err = cli("doctor", "orders", "--engine", "athena", "--profile-file", profile, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["files"] == 13 and report["bytes"] == sum(3 * (i + 1) for i in range(12)) + 3
    assert [f["partition"] for f in report["flagged"]] == [DAY]
    featurekit.load()  # the shipped catalog still loads: doctor changed nothing
