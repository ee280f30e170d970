"""The arrows point one way: see docs/ARCHITECTURE.md.

Every ``import`` counts, also one inside a function: a late import is still an arrow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "runtime", "bot", "erp", "admin", "api", "loyalty")
COMPOSITION_ROOT = "loyalty"
FORBIDDEN = {
    "domain": {"flask", "pywa", "pyodbc", "werkzeug", "flask_login", *PACKAGES} - {"domain"},
    "runtime": {"pywa", "pyodbc", "bot", "erp", "admin", "api", "loyalty"},
    "bot": {"erp", "admin", "api", "pyodbc", "loyalty"},
    "erp": {"bot", "admin", "api", "pywa", "loyalty"},
    "admin": {"api", "pyodbc", "loyalty"},
    "api": {"admin", "pyodbc", "loyalty"},
}
# Modules of ``bot`` that other packages may import: its facade, and the package itself (init_app).
BOT_FACADE = {"bot", "bot.api"}


def imports(path: Path) -> Iterator[str]:
    """Every absolute module name ``path`` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            yield base
            # ``from bot import models`` names a module, not only the package.
            yield from (f"{base}.{alias.name}" for alias in node.names)


def source_files(package: str) -> list[Path]:
    folder = ROOT / package
    return sorted(folder.rglob("*.py")) if folder.exists() else []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected set of more than one node (Tarjan), sorted for stable messages."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_packages_import_only_inward() -> None:
    problems = []
    for package, forbidden in FORBIDDEN.items():
        for path in source_files(package):
            bad = {name.split(".")[0] for name in imports(path)} & forbidden
            if bad:
                problems.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert problems == []


def test_nothing_imports_the_composition_root() -> None:
    users = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        if package != COMPOSITION_ROOT
        for path in source_files(package)
        if any(name.split(".")[0] == COMPOSITION_ROOT for name in imports(path))
    ]
    assert users == []


def test_console_and_api_reach_the_bot_only_through_its_facade() -> None:
    problems = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in ("admin", "api")
        for path in source_files(package)
        for name in imports(path)
        if name.split(".")[0] == "bot" and name not in BOT_FACADE and not name.startswith("bot.api.")
    ]
    assert problems == []


def test_top_level_packages_form_no_cycle() -> None:
    graph = {
        package: {name.split(".")[0] for path in source_files(package) for name in imports(path)}
        & set(PACKAGES) - {package}
        for package in PACKAGES
    }
    assert _cycles(graph) == []


def test_domain_modules_form_no_cycle() -> None:
    modules = {path.stem for path in source_files("domain") if path.stem != "__init__"}
    graph = {
        stem: {name.split(".")[1] for name in imports(ROOT / "domain" / f"{stem}.py") if name.startswith("domain.")}
        & modules - {stem}
        for stem in modules
    }
    assert _cycles(graph) == []


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_arrows(path: Path, modules: set[str]) -> set[str]:
    """The modules of this tree that ``path`` imports: ``from bot import replies`` is an arrow to
    ``bot.replies``, not to the package ``bot`` it is named through."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    arrows: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            arrows.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            named = {f"{base}.{alias.name}" for alias in node.names} & modules
            arrows.update(named or {base})
    return arrows & modules


def test_modules_form_no_cycle() -> None:
    """No file of any package imports, through any chain, a file that imports it back."""
    files = [path for package in PACKAGES for path in source_files(package)]
    modules = {_module_name(path) for path in files}
    graph = {_module_name(path): _module_arrows(path, modules) - {_module_name(path)} for path in files}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_source_file_is_over_400_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {n}"
        for package in [*PACKAGES, "bench"]
        for path in source_files(package)
        if (n := len(path.read_text().splitlines())) > 400
    ]
    assert long == []
