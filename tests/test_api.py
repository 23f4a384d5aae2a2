"""The public API is small, sorted and deliberate: changing it should be a decision, not an accident."""

from __future__ import annotations

import featurekit

EXPECTED = {
    "CacheStats",
    "Catalog",
    "Completion",
    "ConfigError",
    "DataError",
    "DeclarationError",
    "DuckDBEngine",
    "FeatureCache",
    "FeatureFrame",
    "FeatureRow",
    "FeatureStore",
    "FeaturekitError",
    "InputError",
    "InvalidEntityId",
    "LLMError",
    "Note",
    "NotFoundError",
    "OfflineProvider",
    "Provenance",
    "QueryError",
    "QueryStats",
    "QueryTimeout",
    "RenderedPrompt",
    "RenderedQuery",
    "TemplateError",
    "load",
    "AthenaEngine",
    "BedrockProvider",
    "CostLimitExceeded",
    "DryRun",
    "GroundingReport",
    "Partial",
    "QueryThrottled",
    "ask",
    "tool_config",
}


def test_public_api_is_exactly_the_exported_names():
    assert set(featurekit.__all__) == EXPECTED
    assert featurekit.__all__ == sorted(featurekit.__all__, key=str.lower) or featurekit.__all__ == sorted(
        featurekit.__all__
    )
    for name in featurekit.__all__:
        assert getattr(featurekit, name) is not None


def test_every_error_descends_from_one_root():
    errors = [
        getattr(featurekit, n)
        for n in featurekit.__all__
        if n.endswith("Error") or n in ("QueryTimeout", "InvalidEntityId")
    ]
    assert all(issubclass(e, featurekit.FeaturekitError) for e in errors)


def test_importing_featurekit_loads_no_cloud_sdk():
    # The embedded default must work without the athena/bedrock/trino extras installed, and `import featurekit`
    # stays fast: the public names load on first use.
    import subprocess
    import sys

    sdks = "('boto3', 'botocore', 'pyathena', 'trino', 'sqlalchemy', 'pydantic', 'pyarrow', 'duckdb')"
    code = f"import sys, featurekit; print(sorted(m for m in {sdks} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_public_names_load_on_first_use():
    import subprocess
    import sys

    code = "import featurekit, sys; featurekit.FeatureStore; print('featurekit.store' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
    try:
        featurekit.NoSuchName  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchName" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("unknown names must raise AttributeError")
