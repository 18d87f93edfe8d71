"""The docs name what exists: every file path and link in the Markdown docs resolves, and every
``module.name`` of the package cited in the docs or in the package's own comments and
docstrings is a real attribute of that module (names drift when code moves)."""

import ast
import importlib
import io
import re
import tokenize
from pathlib import Path

import pytest

from helpers import REPO

PACKAGE = REPO / "workflow" / "scripts" / "imageprep"
DOCS = sorted(
    [REPO / "README.md", REPO / "config" / "README.md", REPO / "profiles" / "README.md"]
    + [p for p in (REPO / "docs").glob("*.md")]
)
# module short name -> its dotted path, for the product package (not the benchmark)
MODULES = {
    p.stem: ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
    for p in PACKAGE.glob("*/*.py")
    if p.name != "__init__.py" and p.parent.name != "bench"
}
# file endings that follow a module's name in prose (manifest.csv, records.tsv ...)
NOT_NAMES = {"csv", "tsv", "json", "py", "log", "tar", "html", "jpg", "png", "svg", "md", "txt"}
CITED = re.compile(
    r"(?<![\w/.-])(" + "|".join(sorted(MODULES, key=len, reverse=True)) + r")\.([A-Za-z_]\w*)"
)
# config keys written as paths (variants.NAME.size), not code
CONFIG_KEYS = {("variants", "NAME"), ("variants", "thumbs")}
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PATH = re.compile(
    r"\b((?:workflow|config|profiles|tests|docs)/[\w./-]*\w\.(?:py|smk|yaml|md|sh|rst))"
)


def cited(text: str) -> set[tuple[str, str]]:
    found = {(m[1], m[2]) for m in CITED.finditer(text) if m[2] not in NOT_NAMES}
    return found - CONFIG_KEYS


def prose_of(path: Path) -> str:
    """A module's comments and docstrings."""
    text = path.read_text()
    parts = [
        tok.string
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)):
            parts.append(ast.get_docstring(node) or "")
    return "\n".join(parts)


def resolves(module: str, name: str) -> bool:
    return hasattr(importlib.import_module(MODULES[module]), name)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_paths_and_links_in_the_docs_exist(doc):
    text = doc.read_text()
    missing = [
        link
        for link in LINK.findall(text)
        if "://" not in link and not link.startswith("mailto:")
        and not (doc.parent / link).exists()
    ]  # fmt: skip
    missing += [path for path in PATH.findall(text) if not (REPO / path).exists()]
    assert not missing, missing


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_names_cited_in_the_docs_exist(doc):
    wrong = sorted(f"{m}.{n}" for m, n in cited(doc.read_text()) if not resolves(m, n))
    assert not wrong, wrong


def test_names_cited_in_the_packages_comments_exist():
    wrong = sorted(
        f"{path.relative_to(PACKAGE)}: {m}.{n}"
        for path in PACKAGE.rglob("*.py")
        for m, n in cited(prose_of(path))
        if not resolves(m, n)
    )
    assert not wrong, wrong


def test_the_checks_above_can_fail():
    assert cited("see `manifest.is_current`") == {("manifest", "is_current")}
    assert not resolves("manifest", "is_current")
    assert resolves("current", "is_current")
