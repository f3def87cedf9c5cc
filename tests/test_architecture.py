"""The packages' shape, read from the source with ``ast``: no import circles (between modules or between the
four top-level packages), no private name imported from another module, no module over 450 lines.

Every import counts, also one inside a function or under ``TYPE_CHECKING``: a lazy import hides a circle
from Python at import time, not from a reader.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("forecasting", "strategies", "backtests", "reports")
MAX_LINES = 450


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def find_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file (a package is its ``__init__.py``)."""
    files = [path for package in packages for path in sorted((root / package).rglob("*.py"))]
    return {".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): path for path in files}


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str | None]]:
    """(imported module, imported name or None) for every import in ``path``, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((submodule, None) if submodule in modules else (base, alias.name))
    return found


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One concrete circle (``a, b, ..., a``) per strongly connected group of nodes, self-imports included."""
    reach: dict[str, set[str]] = {}
    for start in edges:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        reach[start] = seen
    found, done = [], set()
    for node in sorted(edges):
        if node in done or node not in reach[node]:
            continue
        group = {other for other in reach[node] if node in reach.get(other, set())}
        done |= group
        path, prev, todo = [], {node: None}, [node]  # shortest way back to ``node`` inside the group
        while todo and not path:
            current = todo.pop(0)
            for nxt in sorted(edges.get(current, ())):
                if nxt == node:
                    path = [nxt, current]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    break
                if nxt in group and nxt not in prev:
                    prev[nxt] = current
                    todo.append(nxt)
        found.append(path[::-1])
    return found


def private_import(module: str, target: str, name: str | None) -> str | None:
    """What ``module`` may not import: a private module outside its own package, or another module's _name."""
    parts = target.split(".")
    for i, part in enumerate(parts):
        if private(part):
            owner = ".".join(parts[:i])
            if not (module == owner or module.startswith(owner + ".")):
                return ".".join(parts[: i + 1])
            break
    if name is not None and private(name) and target != module:
        return f"{target}.{name}"
    return None


def check(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Everything wrong with the packages under ``root``, one line each (and printed)."""
    modules = find_modules(root, packages)
    edges: dict[str, set[str]] = defaultdict(set)
    problems = []
    for module, path in modules.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            problems.append(f"too big: {module} has {lines} lines (at most {MAX_LINES})")
        edges.setdefault(module, set())
        for target, name in imports_of(module, path, modules):
            if target in modules:
                edges[module].add(target)
            hidden = private_import(module, target, name)
            if hidden is not None:
                problems.append(f"private import: {module} imports {hidden}")
    for circle in circles(edges):
        problems.append(f"module circle: {' -> '.join(circle)}")
    top: dict[str, set[str]] = defaultdict(set)
    for module, targets in edges.items():
        top[module.split(".")[0]] |= {t.split(".")[0] for t in targets if t.split(".")[0] != module.split(".")[0]}
    for circle in circles(top):
        why = []
        for x, y in zip(circle, circle[1:], strict=False):
            pairs = [f"{a} imports {b}" for a in sorted(edges) if a.split(".")[0] == x
                     for b in sorted(edges[a]) if b.split(".")[0] == y]  # fmt: skip
            why.append(pairs[0] + (f" and {len(pairs) - 1} more" if len(pairs) > 1 else ""))
        problems.append(f"package circle: {' -> '.join(circle)} ({'; '.join(why)})")
    print(f"{len(modules)} modules, {sum(map(len, edges.values()))} imports between them")
    print("\n".join(problems) or "no circles, no private imports, no module over the limit")
    return problems


def test_packages_have_no_circles_private_imports_or_big_modules() -> None:
    problems = check(ROOT)
    assert not problems, "\n".join(problems)


def test_the_checker_finds_circles_private_imports_and_big_modules(tmp_path: Path) -> None:
    def write(name: str, text: str) -> None:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    write("alpha/__init__.py", "")
    write("alpha/one.py", "from .two import helper\n")
    write("alpha/two.py", "def helper():\n    from . import three\n")  # a lazy import closes the circle
    write("alpha/three.py", "import alpha.one\nfrom beta.core import _secret, public\n")
    write("alpha/selfish.py", "from . import selfish\n")
    write("alpha/_inner.py", "x = 1\n")
    write("alpha/fine.py", "from . import _inner\nfrom ._inner import x\n")  # its own package's private module
    write("beta/__init__.py", "")
    write("beta/core.py", "_secret = public = 1\n")
    write("beta/user.py", "from alpha import _inner\nfrom alpha.fine import x\n" + "\n" * MAX_LINES)
    problems = check(tmp_path, ("alpha", "beta"))
    assert "module circle: alpha.one -> alpha.two -> alpha.three -> alpha.one" in problems
    assert "module circle: alpha.selfish -> alpha.selfish" in problems
    why = "alpha.three imports beta.core; beta.user imports alpha._inner and 1 more"
    assert f"package circle: alpha -> beta -> alpha ({why})" in problems
    assert "private import: alpha.three imports beta.core._secret" in problems
    assert "private import: beta.user imports alpha._inner" in problems
    assert f"too big: beta.user has {MAX_LINES + 2} lines (at most {MAX_LINES})" in problems
    assert not [p for p in problems if "alpha.fine" in p.split(" imports ")[0]], problems
    assert len(problems) == 6, problems
