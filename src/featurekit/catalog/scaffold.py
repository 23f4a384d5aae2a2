"""Scaffolding for users: `featurekit init DIR` and the published JSON Schema of the declaration files.

The schema is generated from the same pydantic declarations the loader validates with
(`featurekit.declarations.schema()`), so an editor that validates YAML against it agrees with
`featurekit validate`. The copy in the repository's `schema/` folder is checked by a test.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import loader as catalog_mod
from .declarations import schema

#: Catalog folder -> the singular kind used in schema file names (schema/view.schema.json).
KIND_NAMES = {"tables": "table", "entities": "entity", "views": "view", "prompts": "prompt"}
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FOLDER = "schema"


def schema_documents() -> dict[str, dict[str, Any]]:
    """One standalone JSON Schema document per declaration kind, keyed by file name."""
    documents = {}
    for folder, generated in schema().items():
        kind = KIND_NAMES[folder]
        documents[f"{kind}.schema.json"] = {
            "$schema": JSON_SCHEMA_DIALECT,
            "title": f"featurekit {kind} declaration",
            "description": f"{generated.pop('description', '')} (Files in the catalog's {folder}/ folder.)".strip(),
            **{k: v for k, v in generated.items() if k != "title"},
        }
    return documents


def schema_text(document: dict[str, Any]) -> str:
    """The exact text written for a schema document, so the committed files can be compared byte for byte."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: str | os.PathLike[str]) -> list[Path]:
    """Write every kind's schema into `folder`; returns the files written."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in schema_documents().items():
        path = target / name
        path.write_text(schema_text(document))
        written.append(path)
    return written


@dataclass(frozen=True)
class InitSummary:
    folder: Path
    tables: int
    entities: int
    views: int
    prompts: int


README = """\
# featurekit catalog

This folder is a featurekit catalog: features are declared here in YAML and SQL, never in Python.
It started as a copy of the catalog shipped with featurekit; edit it freely.

```
tables/     data sources: columns, format, folder, partitions    (tables/orders.yaml)
entities/   what features describe, with an ID pattern            (entities/customer.yaml)
views/      feature views: a declaration + an Athena SQL template (views/customer_orders.yaml + .sql)
prompts/    prompts for the note writer + an offline template    (prompts/retention_note.*)
schema/     JSON Schema of each kind, for editor completion and validation
```

Every YAML file starts with a `# yaml-language-server: $schema=...` comment, so editors with the
YAML language server (VS Code's YAML extension, Neovim, JetBrains) complete and check fields as you type.

Check and use it:

```
featurekit validate --catalog {name}
featurekit sample-data --out data --as-of 2026-06-30
featurekit get customer_orders C00042 --catalog {name} --data data --as-of 2026-06-30
```

Or set `FEATUREKIT_CATALOG={name}` once instead of passing `--catalog`.
"""


EMPTY_README = """\
# featurekit catalog

This folder is a featurekit catalog: features are declared here in YAML and SQL, never in Python.
It starts empty; declare your own domain in four steps (each file names its JSON Schema on its first
line, so editors with the YAML language server complete and check fields as you type):

```
tables/     1. a data source: columns, format, folder, partitions     (tables/<name>.yaml)
entities/   2. what features describe, with an ID pattern             (entities/<name>.yaml)
views/      3. a feature view: declaration + Athena SQL template      (views/<name>.yaml + <name>.sql)
prompts/    4. optional: a prompt for the note writer                 (prompts/<name>.yaml + .jinja)
schema/     JSON Schema of each kind
```

The guides "Add a table" and "Add a feature view" in the docs walk through each file. Check as you go:

```
featurekit validate --catalog {name}
featurekit get <view> <ID> --catalog {name} --data <your data folder>
```
"""


def init_catalog(folder: str | os.PathLike[str], *, empty: bool = False) -> InitSummary:
    """Create an editable catalog in `folder` (new or empty): the shipped catalog, a README, the schemas.
    With `empty`, a skeleton instead: the four declaration folders with nothing in them, a README, the schemas.

    Never overwrites: a folder that exists and is not empty is refused with an InputError.
    """
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise InputError(str(folder), "exists and is not a folder; featurekit init needs a new or empty folder")
    if target.is_dir() and any(target.iterdir()):
        raise InputError(str(folder), "folder is not empty; featurekit init never overwrites files, pick a new folder")
    if empty:
        for kind_folder in KIND_NAMES:
            (target / kind_folder).mkdir(parents=True, exist_ok=True)
    else:
        source = catalog_mod.shipped_catalog()
        shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    write_schemas(target / SCHEMA_FOLDER)
    # Point each YAML file at its schema, relative to the file, so the catalog stays valid wherever it is moved.
    for kind_folder, kind in KIND_NAMES.items():
        for yaml_file in sorted((target / kind_folder).glob("*.y*ml")):
            text = yaml_file.read_text()
            comment = f"# yaml-language-server: $schema=../{SCHEMA_FOLDER}/{kind}.schema.json\n"
            if not text.startswith("# yaml-language-server:"):
                yaml_file.write_text(comment + text)
    (target / "README.md").write_text((EMPTY_README if empty else README).format(name=folder))
    loaded = catalog_mod.load(target)  # proves the copy is a working catalog before we say so
    return InitSummary(target, len(loaded.tables), len(loaded.entities), len(loaded.views), len(loaded.prompts))
