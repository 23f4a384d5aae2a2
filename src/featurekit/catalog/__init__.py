"""Declare: the catalog of tables, entities, feature views and prompts, loaded from files.

`declarations` holds the frozen, validated declaration types; `loader` reads a catalog folder
into a `Catalog`, each file through `yamlfile` (bounded YAML, lines from the parser's marks);
`templates` is the bounded Jinja sandbox; `safety` refuses any rendered view that is not one
read-only SELECT over declared tables; `scaffold` writes new catalogs and JSON Schemas. This stage
imports only `errors`.
"""
