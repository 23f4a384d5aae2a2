"""Execute: where rendered queries run. DuckDB in-process (the embedded default), Athena, Trino.

`base` is the interface every engine keeps (`Engine`, `QueryStats`, Athena's price); `adapt`
turns Athena SQL into DuckDB SQL with sqlglot; `ddl` writes Athena DDL for declared tables;
`redact` keeps AWS credentials out of the AWS SDK's own log records.
This stage imports `errors`, `catalog`, `config` and `render`; never the cache, results or LLM.
"""
