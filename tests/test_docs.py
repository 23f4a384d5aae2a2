"""The docs cannot rot: every code block in docs/ runs here, and the site builds with --strict.

How a page's blocks are run (in order, in one fresh working folder per page that already holds the
tutorial's sample data in `data/`, generated with --as-of 2026-06-30):

- ```python blocks run in one namespace per page.
- ```bash / ```console / ```shell blocks: each `featurekit ...` command line (or `$ featurekit ...`) runs
  through the CLI's real entry point and must exit 0. Other command lines (pip, python -m venv) are shown,
  not run. In ```console blocks the lines after a command are its expected output: each must appear in what
  the command printed (`...` matches anything), so the output shown in the docs is real.
- a block whose fence has `title="some/path"` (```yaml title="my-catalog/views/x.yaml") is written to that
  path, so guides that create files are followed exactly as a reader would.
- `<!-- expect-error -->` on the line before a block: every command in it must fail with a non-zero exit
  and one-line `error:` output, no traceback (python: must raise a FeaturekitError).
- `<!-- no-test: reason -->` skips one block (say why: e.g. needs AWS). ```text blocks never run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import featurekit
from featurekit.sample import write_sample

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
AS_OF = "2026-06-30"
SHELL = ("bash", "console", "shell", "sh")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
TITLE = re.compile(r"""title=["']([^"']+)["']""")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    title: str | None
    body: str
    expect_error: bool
    skip: bool

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Fenced code blocks of a Markdown page, indented ones (in admonitions, tabs) included."""
    found: list[Block] = []
    lines = page.read_text().splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"]
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not _closes(lines[i], fence):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        i += 1
        before = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        title = TITLE.search(info)
        found.append(
            Block(
                page=page.relative_to(DOCS).as_posix() if page.is_relative_to(DOCS) else page.name,
                line=start + 1,
                lang=(info.split() or [""])[0].lstrip(".{").lower(),
                title=title[1] if title else None,
                body="\n".join(body) + "\n",
                expect_error=before == "<!-- expect-error -->",
                skip=before.startswith("<!-- no-test"),
            )
        )
    return found


def _closes(line: str, fence: str) -> bool:
    text = line.strip()
    return len(text) >= len(fence) and set(text) == {fence[0]}


def commands(block: Block) -> list[tuple[str, list[str]]]:
    """(command line, expected output lines) pairs of a shell block; continuation lines are joined."""
    result: list[tuple[str, list[str]]] = []
    console = block.lang == "console"
    pending = ""
    for raw in block.body.splitlines():
        line = raw.rstrip()
        if pending:
            pending += " " + line.strip()
        elif console and line.startswith("$ "):
            pending = line[2:].strip()
        elif console:
            if result and line.strip():
                result[-1][1].append(line)
            continue
        elif line.strip() and not line.lstrip().startswith("#"):
            pending = line.strip()
        else:
            continue
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        result.append((pending, []))
        pending = ""
    return result


PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A reader's fresh folder: the tutorial's sample data in data/, no FEATUREKIT_* settings from outside."""
    write_sample(tmp_path / "data", as_of=dt.date.fromisoformat(AS_OF))
    for name in list(os.environ):
        if name.startswith("FEATUREKIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "100")  # rich sizes tables to this, so shown output is reproducible
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(argv: list[str]) -> tuple[int, str, str, BaseException | None]:
    """The CLI's real entry point in-process (same code as the installed script, without a 1 s start-up)."""
    from featurekit.cli import main as cli

    out, err = io.StringIO(), io.StringIO()
    code, crash = 0, None
    saved = sys.argv
    sys.argv = ["featurekit", *argv]
    # rich consoles write to sys.stdout/sys.stderr at print time, so redirecting captures them.
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # an escaped exception is exactly what the CLI must never show a user
        code, crash = 1, exc
    finally:
        sys.argv = saved
    return code, out.getvalue(), err.getvalue(), crash


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def expected_in(expected: str, printed: list[str]) -> bool:
    pattern = fnmatch.translate(expected.strip().replace("[", "[[]").replace("...", "*"))
    return any(re.match(pattern, line.strip()) for line in printed)


def run_shell(block: Block, workdir: Path) -> None:
    for line, expected in commands(block):
        argv = shlex.split(line)
        env = {}
        while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[0]):  # `AWS_REGION=x featurekit ...`
            name, _, value = argv.pop(0).partition("=")
            env[name] = value
        if not argv or argv[0] != "featurekit":
            continue  # set-up lines (pip install, python -m venv) are for readers, not for this test
        with _environ(env):
            code, out, err, crash = run_cli(argv[1:])
        shown = f"{block.where}: `{line}` exited {code}\n--- stdout\n{out}--- stderr\n{err}"
        assert crash is None, f"{shown}\nan exception escaped the CLI: {crash!r}"
        if block.expect_error:
            assert code != 0, f"{shown}\nexpected this command to fail (block is marked expect-error)"
            assert err.startswith("error: "), f"{shown}\na failure must print an `error: ...` line"
        else:
            assert code == 0, shown
        printed = (out + err).splitlines()
        for want in expected:
            assert expected_in(want, printed), (
                f"{shown}\nthe docs show this output line, which was not printed:\n{want}"
            )


def run_python(block: Block, namespace: dict[str, object]) -> None:
    code = compile(block.body, block.where, "exec")
    if block.expect_error:
        with pytest.raises(featurekit.FeaturekitError):
            exec(code, namespace)
        return
    exec(code, namespace)


def write_file(block: Block, workdir: Path) -> None:
    assert block.title is not None
    target = (workdir / block.title).resolve()
    assert target.is_relative_to(workdir.resolve()), f"{block.where}: title {block.title!r} leaves the folder"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(block.body)


@pytest.mark.parametrize("page", PAGES)
def test_page_blocks_run(page: str, workdir: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs.{page}"}
    ran = 0
    for block in blocks(DOCS / page):
        if block.skip or block.lang == "text":
            continue
        if block.title:  # a file the page creates (a python one too: a test module is written, then run)
            write_file(block, workdir)
        elif block.lang == "python":
            run_python(block, namespace)
        elif block.lang in SHELL:
            run_shell(block, workdir)
        else:
            continue
        ran += 1
    import matplotlib.pyplot as plt

    plt.close("all")
    if page in ("tutorial.md", "how-to/add-a-feature-view.md"):
        assert ran >= 5, f"docs/{page} should be executed, found only {ran} runnable blocks"


# The parser and runner are the safety net for every page, so they get tests of their own.


def test_block_parser_reads_markers_titles_and_indented_fences(tmp_path: Path) -> None:
    page = tmp_path / "probe.md"  # never inside docs/: the other worker collects and builds from there
    text = (
        "<!-- expect-error -->\n```console\n$ featurekit get nope C1\nerror: ...\n```\n\n"
        '!!! note\n    ```yaml title="cat/views/x.yaml"\n    name: x\n    ```\n\n'
        "<!-- no-test: needs AWS -->\n```python\nimport boto3\n```\n\n"
        "```bash\nfeaturekit get customer_orders \\\n  C00042\npip install featurekit\n```\n"
    )
    page.write_text(text)
    found = blocks(page)
    assert [(b.lang, b.expect_error, b.skip, b.title) for b in found] == [
        ("console", True, False, None),
        ("yaml", False, False, "cat/views/x.yaml"),
        ("python", False, True, None),
        ("bash", False, False, None),
    ]
    assert found[1].body == "name: x\n"
    assert commands(found[0]) == [("featurekit get nope C1", ["error: ..."])]
    assert commands(found[3]) == [("featurekit get customer_orders C00042", []), ("pip install featurekit", [])]


def test_runner_fails_a_block_whose_command_fails(workdir: Path) -> None:
    failing = Block("probe.md", 1, "bash", None, "featurekit get no_such_view C00042\n", False, False)
    with pytest.raises(AssertionError, match="exited 2"):
        run_shell(failing, workdir)
    marked = Block(
        "probe.md", 1, "console", None, "$ featurekit get no_such_view C00042\nerror: unknown view ...\n", True, False
    )
    run_shell(marked, workdir)  # marked expect-error, and the shown error line is what was printed
    wrong_output = Block("probe.md", 1, "console", None, "$ featurekit list\nsomething never printed\n", False, False)
    with pytest.raises(AssertionError, match="not printed"):
        run_shell(wrong_output, workdir)
    succeeding_but_marked = Block("probe.md", 1, "bash", None, "featurekit list\n", True, False)
    with pytest.raises(AssertionError, match="expected this command to fail"):
        run_shell(succeeding_but_marked, workdir)


def test_cli_reference_is_generated_from_the_cli() -> None:
    spec = importlib.util.spec_from_file_location("gen_cli_reference", REPO / "scripts" / "gen_cli_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (DOCS / "reference" / "cli.md").read_text()
    assert committed == module.render(), "docs/reference/cli.md is stale; run: python scripts/gen_cli_reference.py"
    from featurekit.cli.main import app

    for command in app.registered_commands:  # every command has a section, so a new one cannot be forgotten
        name = command.name or command.callback.__name__.replace("_", "-")
        assert f"## `featurekit {name}`" in committed


def test_quickstart_holds_the_readme_commands_verbatim() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    readme_commands = re.findall(r"```bash\n(.+?)\n```", section, re.S)
    assert len(readme_commands) == 2
    quickstart = (DOCS / "quickstart.md").read_text()
    for command in readme_commands:
        assert f"```bash\n{command}\n```" in quickstart, f"quickstart.md must show the README command:\n{command}"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    # --strict turns every warning (a broken link, a missing nav page, an unresolved API reference) into a failure.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
         "--site-dir", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "api" / "index.html").is_file()
    # The notebook is a rendered page of the site (mkdocs-jupyter), not a raw download.
    notebook = (tmp_path / "site" / "notebook" / "index.html").read_text()
    assert "featurekit in a notebook" in notebook and 'store.get("customer_orders"' in notebook
