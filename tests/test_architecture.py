"""The layout holds: one package with no import cycles, a product that never imports its
benchmark, resize jobs that start lean, and tests that share helpers rather than import
each other."""

import ast
import subprocess
import sys

import pytest

from helpers import REPO

SCRIPTS = REPO / "workflow" / "scripts"
PACKAGE = SCRIPTS / "imageprep"
MODULES = sorted(
    ".".join(p.relative_to(SCRIPTS).with_suffix("").parts)
    for p in PACKAGE.rglob("*.py")
    if p.name != "__init__.py"
)
PRODUCT = [m for m in MODULES if not m.startswith("imageprep_bench")]


def imports_of(module: str) -> set[str]:
    """The imageprep modules ``module`` imports (absolute or relative), from its source."""
    path = SCRIPTS / (module.replace(".", "/") + ".py")
    package = module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            names = [name] + [f"{name}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {n for n in names if n in MODULES}
    return found


def test_the_package_has_no_import_cycles():
    graph = {module: imports_of(module) for module in MODULES}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", "import cycle: " + " -> ".join([*path, module])
        state[module] = "open"
        for imported in sorted(graph[module]):
            visit(imported, [*path, module])
        state[module] = "done"

    for module in MODULES:
        visit(module, [])
    assert len(MODULES) >= 10  # the check looked at the real package


# The product's stages, lowest first: each imports only its own stage and those below it.
STAGES = ("image", "folder", "run", "pool")


def stage_of(module: str) -> int:
    return STAGES.index(module.split(".")[1])


@pytest.mark.parametrize("module", PRODUCT)
def test_stages_import_only_downward(module):
    assert module.split(".")[1] in STAGES, f"{module} is in no stage folder ({STAGES})"
    upward = sorted(m for m in imports_of(module) if stage_of(m) > stage_of(module))
    assert not upward, f"{module} imports a later stage: {upward}"


def code_strings(module: str) -> list[str]:
    """The string constants of a module's code (docstrings left out: they may name anything)."""
    tree = ast.parse((SCRIPTS / (module.replace(".", "/") + ".py")).read_text())
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
        and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def test_every_path_in_an_output_folder_is_named_in_layout():
    """Code names ".imageprep" in one module only (docstrings may mention it)."""
    named = [m for m in MODULES if any(".imageprep" in text for text in code_strings(m))]
    assert named == ["imageprep.folder.layout"]


def test_only_the_writers_know_the_containers():
    """How outputs are kept is one seam (docs/architecture.md, "Adding a container"): no code
    outside folder/writers/ names a container but the default."""
    from imageprep.folder.writers import CONTAINERS

    others = set(CONTAINERS) - {"files"}
    naming = [m for m in PRODUCT if others & set(code_strings(m))]
    assert naming and all(m.startswith("imageprep.folder.writers.") for m in naming), naming


@pytest.mark.parametrize("module", PRODUCT)
def test_the_product_never_imports_the_benchmark(module):
    code = (
        f"import sys; import {module}; "
        "print(sorted(m for m in sys.modules if m.startswith('imageprep_bench')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=SCRIPTS, check=True
    )
    assert proc.stdout.strip() == "[]", proc.stdout


def test_a_resize_job_starts_lean(tmp_path):
    """What a job runs (imageprep.run.resize_jobs on a JPEG) loads neither numpy, yaml,
    matplotlib nor Snakemake: start-up is paid once per job."""
    from imagefactory import photo

    src = photo(tmp_path / "a.jpg")
    code = (
        "import sys; from imageprep.run.resize_jobs import main; "
        f"assert main(['--spec', '{{}}', '--inputs', {str(src)!r}, "
        f"'--outputs', {str(tmp_path / 'out.jpg')!r}]) == 0; "
        "heavy = {'numpy', 'yaml', 'matplotlib', 'snakemake', 'psutil', 'jsonschema'}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=SCRIPTS, check=True
    )
    assert proc.stdout.strip() == "[]", proc.stdout
    assert (tmp_path / "out.jpg").exists()


def test_entry_scripts_are_thin():
    for script in SCRIPTS.glob("*.py"):
        lines = script.read_text().splitlines()
        assert len(lines) <= 30, f"{script.name}: {len(lines)} lines; logic belongs in imageprep"


def test_modules_stay_small():
    for path in PACKAGE.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 320, path.relative_to(REPO)


def test_no_test_module_imports_another():
    tests = {p.stem for p in (REPO / "tests").glob("test_*.py")} | {"conftest"}
    for path in (REPO / "tests").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            assert not set(names) & tests, f"{path.name} imports {set(names) & tests}"
