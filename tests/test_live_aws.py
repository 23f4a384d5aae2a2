"""Against a real AWS account: skipped unless FEATUREKIT_LIVE_AWS=1.

Run (costs a few 10 MB-minimum queries, about $0.0002):

    FEATUREKIT_LIVE_AWS=1 FEATUREKIT_ATHENA_S3_STAGING_DIR=s3://my-athena-results/featurekit-tests/ \\
    AWS_PROFILE=dev AWS_REGION=eu-west-1 pytest -m aws tests/test_live_aws.py

Needs the IAM permissions listed in docs/athena.md. Uses only `SELECT` over VALUES, so no tables
or data are created.
"""

from __future__ import annotations

import os

import pytest

pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(os.environ.get("FEATUREKIT_LIVE_AWS") != "1", reason="set FEATUREKIT_LIVE_AWS=1 to run"),
]


@pytest.fixture
def engine():
    from featurekit.engines.athena import AthenaEngine

    e = AthenaEngine(poll_interval=0.3, query_timeout=120)
    yield e
    e.close()


def test_bound_values_round_trip_and_statistics(engine) -> None:
    import sqlalchemy as sa

    from featurekit.render import RenderedQuery

    sql = "SELECT x AS customer_id, 1 AS n FROM (VALUES 'C00042', 'C00043') AS t(x) WHERE x IN :entity_ids"
    query = RenderedQuery("live", "athena", sql, {"entity_ids": ("C00042", "x' OR 1=1 --")}, "v", ())
    assert isinstance(query.statement(), sa.TextClause)
    table, stats = engine.execute(query)
    assert table.column("customer_id").to_pylist() == ["C00042"]
    assert stats.query_id and stats.workgroup and stats.cost_usd is not None and stats.total_ms is not None


def test_result_reuse_on_a_repeated_query(engine) -> None:
    from featurekit.render import RenderedQuery

    query = RenderedQuery("live", "athena", "SELECT 42 AS n WHERE 1 IN :entity_ids", {"entity_ids": (1,)}, "v", ())
    engine.execute(query)
    _, again = engine.execute(query)
    # Needs a workgroup on engine v3; on v2 this fails, which is what the docs warn about.
    assert again.reused is True and again.cost_usd == 0.0


def test_timeout_stops_the_query(engine) -> None:
    from featurekit.errors import QueryTimeout
    from featurekit.render import RenderedQuery

    slow = (
        "SELECT count(*) AS n FROM UNNEST(sequence(1, 100000000)) AS t(x) CROSS JOIN UNNEST(sequence(1, 50)) "
        "AS u(y) WHERE 1 IN :entity_ids"
    )
    engine2 = type(engine)(poll_interval=0.3, query_timeout=2, result_reuse=False)
    try:
        with pytest.raises(QueryTimeout) as caught:
            engine2.execute(RenderedQuery("slow", "athena", slow, {"entity_ids": (1,)}, "v", ()))
        state = engine2.client().get_query_execution(QueryExecutionId=caught.value.query_id)
        assert state["QueryExecution"]["Status"]["State"] == "CANCELLED"
    finally:
        engine2.close()
