"""Test stage: offline fakes of the AWS services featurekit talks to, shipped so users can test their own catalogs.

- `featurekit.testing.athena`: moto's Athena/S3 server on 127.0.0.1 behind a small recording proxy, with
  result injection (needs the `testing` extra: moto).
- `featurekit.testing.bedrock`: a Converse/ConverseStream fake with scripted replies, errors and streaming
  (stdlib only).

Nothing here is imported by `import featurekit`; the fakes are for tests and never reach a real AWS endpoint.
"""
