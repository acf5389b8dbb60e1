"""The package's shape: no import cycle, no long module, the demo apart, a test per module.

Read from the source (ast), not by importing: imports inside functions and under
TYPE_CHECKING count, and `from pkg import submodule` is an edge to the submodule.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
PRODUCT = "ferry"
DEMO = "ferry_demo"
MAX_LINES = 400
LOGIC_LINES = 40  # a module with more lines of code than this has logic worth a test file


@dataclass(frozen=True)
class Module:
    name: str  # dotted: ferry.engine.pii; a package is named by its folder
    path: Path

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"

    @property
    def lines(self) -> int:
        return len(self.path.read_text(encoding="utf-8").splitlines())

    @property
    def code_lines(self) -> int:
        """Lines of statements other than imports and the docstring (a package's
        re-exports are not logic)."""
        body = [
            node for node in self.tree.body
            if not isinstance(node, (ast.Import, ast.ImportFrom))
            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        ]  # fmt: skip
        return sum(node.end_lineno - node.lineno + 1 for node in body)

    @property
    def tree(self) -> ast.Module:
        return ast.parse(self.path.read_text(encoding="utf-8"), str(self.path))

    def mirrored_tests(self) -> list[Path]:
        """Where its tests go: tests/unit/<package path>/test_<module>.py (integration/ for
        what needs a real server); a package's __init__ is tested as a module of its parent."""
        *folders, last = self.name.split(".")[1:] or [PRODUCT]
        return [ROOT / "tests" / kind / Path(*folders) / f"test_{last}.py"
                for kind in ("unit", "integration")]  # fmt: skip


@cache
def modules(package: str = PRODUCT) -> dict[str, Module]:
    found = {}
    for path in sorted((PLUGINS / package).rglob("*.py")):
        parts = list(path.relative_to(PLUGINS).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = Module(".".join(parts), path)
    return found


def imported_names(module: Module) -> list[tuple[str, int]]:
    """Each dotted name an import statement of module brings in, with its line."""
    names = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            prefix = _absolute(module, node)
            known = modules()
            for alias in node.names:
                candidate = f"{prefix}.{alias.name}"
                names.append((candidate if candidate in known else prefix, node.lineno))
        elif _is_dynamic_import(node):
            names.append((node.args[0].value, node.lineno))
    return names


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_dynamic_import(node: ast.AST) -> bool:
    """importlib.import_module("x") or __import__("x") with a literal name."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    function = node.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    first = node.args[0]
    return name in {"import_module", "__import__"} and isinstance(first, ast.Constant)


@cache
def import_graph() -> dict[str, frozenset[str]]:
    known = modules()
    return {
        name: frozenset(
            target for target, _ in imported_names(module) if target in known and target != name
        )
        for name, module in known.items()
    }


def strongly_connected(graph: dict[str, frozenset[str]]) -> list[frozenset[str]]:
    """The groups of modules that reach each other (Tarjan), those of two or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(frozenset(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def a_cycle(graph: dict[str, frozenset[str]], group: frozenset[str]) -> list[str]:
    """One concrete cycle inside a strongly connected group: a -> b -> ... -> a."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & group):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(f"no cycle in {sorted(group)}")


def import_line(source: str, target: str) -> int:
    return next(line for name, line in imported_names(modules()[source]) if name == target)


def describe(graph: dict[str, frozenset[str]], group: frozenset[str]) -> str:
    cycle = a_cycle(graph, group)
    steps = [
        f"{source} (line {import_line(source, target)}) -> {target}"
        for source, target in itertools.pairwise(cycle)
    ]
    return f"{sorted(group)}: " + "; ".join(steps)


def test_no_import_cycle_between_ferry_modules():
    graph = import_graph()
    groups = set(strongly_connected(graph))
    new = [describe(graph, group) for group in sorted(groups, key=sorted)]
    assert not new, (
        "import cycle(s) between ferry modules (imports inside functions count):\n  "
        + "\n  ".join(new)
        + "\nfix: move what both need into a lower module that imports neither, or pass it in"
        " as an argument; never hide the import inside a function"
    )


def test_no_ferry_module_is_over_400_lines():
    long = {name: module.lines for name, module in modules().items() if module.lines > MAX_LINES}
    assert not long, (
        f"over {MAX_LINES} lines: "
        + ", ".join(
            f"{modules()[name].path.relative_to(ROOT)} ({lines})" for name, lines in long.items()
        )
        + "\nfix: split it by what each part does (one module per job), and move its tests along"
    )


def test_the_product_never_imports_the_demo():
    """A team using its own warehouse deletes plugins/ferry_demo/: ferry must not notice."""
    reaching = [
        f"{module.path.relative_to(ROOT)}:{line} imports {name}"
        for module in modules().values()
        for name, line in imported_names(module)
        if name == DEMO or name.startswith(f"{DEMO}.")
    ]
    assert not reaching, (
        "the product imports the demo:\n  "
        + "\n  ".join(reaching)
        + f"\nfix: the demo calls ferry, never the other way; run {DEMO} from scripts/ or a"
        " DAG file of the demo (dags/ferry_demo_refresh.py)"
    )


def test_every_ferry_module_with_logic_has_a_mirrored_test_file():
    untested = {
        name: module
        for name, module in modules().items()
        if module.code_lines > LOGIC_LINES and not any(p.exists() for p in module.mirrored_tests())
    }
    new = [
        f"{module.path.relative_to(ROOT)}: add {module.mirrored_tests()[0].relative_to(ROOT)}"
        for module in untested.values()
    ]
    assert not new, (
        "ferry modules with logic but no test file of their own:\n  "
        + "\n  ".join(new)
        + "\n(tests/integration/<package path>/test_<module>.py for what needs real servers)"
    )


def test_airflow_leaves_the_packages_in_plugins_alone():
    """Airflow's plugin manager runs every .py file under plugins/ as a top-level module
    (ferry_demo/__main__.py built a warehouse with pytest's argv); packages are ignored."""
    ignored = (PLUGINS / ".airflowignore").read_text(encoding="utf-8").split()
    packages = sorted(p.name for p in PLUGINS.iterdir() if (p / "__init__.py").exists())
    assert packages, "no package found in plugins/"
    missing = [name for name in packages if f"{name}/" not in ignored]
    assert not missing, f"add {missing} (as 'name/') to plugins/.airflowignore"


def test_the_checks_see_what_they_claim_to(tmp_path):
    """Imports are read right (inside functions, relative, `from pkg import submodule`,
    importlib), a cycle is found and spelled, and tests are looked for where they go."""
    source = tmp_path / "fake.py"
    source.write_text(
        "import ferry.spec.loader\n"
        "from . import paths\n"
        "from .spec import errors\n"
        "from ferry.sql import quote\n"
        "def later():\n"
        "    from ferry import refresh\n"
        "    import importlib\n"
        "    return importlib.import_module('ferry_demo.build')\n"
    )
    names = [name for name, _ in imported_names(Module("ferry.fake", source))]
    assert names == [
        "ferry.spec.loader",
        "ferry.paths",
        "ferry.spec.errors",
        "ferry.sql",
        "ferry.refresh",
        "importlib",
        "ferry_demo.build",
    ]
    assert "ferry.paths" in import_graph()["ferry.devserver"]  # from ferry import paths
    toy = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}
    [group] = strongly_connected(toy)
    assert group == {"a", "b", "c"}
    assert a_cycle(toy, group) == ["a", "b", "c", "a"]
    unit = ROOT / "tests" / "unit"
    assert modules()["ferry.engine"].mirrored_tests()[0] == unit / "test_engine.py"
    assert modules()["ferry.cli.local"].mirrored_tests()[0] == unit / "cli" / "test_local.py"
    assert modules()["ferry.paths"].mirrored_tests()[0] == unit / "test_paths.py"


def test_every_test_folder_is_a_package_so_test_file_names_may_repeat():
    """tests/unit/render/test_groups.py and tests/integration/test_groups.py both exist:
    pytest tells them apart only by their packages (unit.render..., integration...)."""
    tests = ROOT / "tests"
    folders = {path.parent for path in tests.rglob("test_*.py")} - {tests}
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists())
    assert not missing, f"add an empty __init__.py to: {', '.join(missing)}"
