"""Dependencies point inward: the domain imports no web, WhatsApp or ERP driver code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "domain": {"flask", "pywa", "pyodbc", "bot", "admin", "erp", "loyalty", "werkzeug", "flask_login"},
    "bot": {"erp", "admin", "pyodbc"},
    "erp": {"bot", "admin", "pywa"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_packages_import_only_inward() -> None:
    problems = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = imported_roots(path) & forbidden
            if bad:
                problems.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert problems == []


def test_domain_really_has_modules() -> None:
    assert len(list((ROOT / "domain").glob("*.py"))) > 5
