"""Declare: the catalog of tables, entities, feature views and prompts, loaded from files.

`declarations` holds the frozen, validated declaration types; `loader` reads a catalog folder
(bounded YAML, sandboxed Jinja templates) into a `Catalog`; `templates` is the Jinja sandbox;
`scaffold` writes new catalogs and JSON Schemas. This stage imports only `errors`.
"""
