"""The package's shape, measured: import cycles (imports inside functions counted), the longest
file and function, and what the training loop may import. ``python tests/test_architecture.py``
prints the figures."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gankit"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80
# The loop's package: it runs any game and names none.
LOOP_PACKAGE = "gankit.training"
LOOP_MAY_NOT_IMPORT = ("gankit.nets", "gankit.discogan", "gankit.agecgan")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(name: str, level: int, here: str, is_package: bool) -> str:
    if level == 0:
        return name
    base = here.split(".") if is_package else here.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node that can run: all of them but the bodies of ``if TYPE_CHECKING:`` blocks,
    whose imports only a type checker reads."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found


def imports(mods: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Each module's imports of other gankit modules, wherever in the file they stand (inside
    functions too; type-checking-only imports excepted)."""
    mods = mods or modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_package = path.name == "__init__.py"
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node.module or "", node.level, mod, is_package)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                           for a in node.names]
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != mod and target.startswith("gankit"):
                    graph[mod].add(target)
    return graph


def modules_in_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def file_lengths() -> dict[str, int]:
    return {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in modules().items()}


def function_lengths() -> dict[str, int]:
    lengths = {}
    for mod, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths[f"{mod}.{node.name}:{node.lineno}"] = node.end_lineno - node.lineno + 1
    return lengths


def loop_imports() -> dict[str, set[str]]:
    """What the loop's package imports that it may not."""
    graph = imports()
    return {m: {t for t in targets if t.startswith(LOOP_MAY_NOT_IMPORT)}
            for m, targets in graph.items() if m.startswith(LOOP_PACKAGE)
            and any(t.startswith(LOOP_MAY_NOT_IMPORT) for t in targets)}


def test_no_import_cycles():
    assert modules_in_cycles(imports()) == []


def test_files_and_functions_are_short():
    long_files = {m: n for m, n in file_lengths().items() if n > MAX_FILE_LINES}
    long_functions = {f: n for f, n in function_lengths().items() if n > MAX_FUNCTION_LINES}
    assert long_files == {} and long_functions == {}


def test_the_training_loop_names_no_model():
    assert (PACKAGE / "training").is_dir()
    assert loop_imports() == {}


def test_the_measure_sees_a_cycle(tmp_path):
    """The cycle finder itself: a two-module cycle through a function-level import is found; a
    type-checking-only import makes none."""
    pkg = tmp_path / "gankit"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from gankit import b\n")
    (pkg / "b.py").write_text("def f():\n    from gankit.a import x\n")
    (pkg / "c.py").write_text("import gankit.a\nif TYPE_CHECKING:\n    import gankit.d\n")
    (pkg / "d.py").write_text("import gankit.c\n")
    graph = imports({"gankit": pkg / "__init__.py", "gankit.a": pkg / "a.py",
                     "gankit.b": pkg / "b.py", "gankit.c": pkg / "c.py", "gankit.d": pkg / "d.py"})
    assert modules_in_cycles(graph) == [["gankit.a", "gankit.b"]]


if __name__ == "__main__":
    graph = imports()
    cycles = modules_in_cycles(graph)
    print(f"modules: {len(graph)}; in import cycles: {sum(map(len, cycles))}")
    for group in cycles:
        print("  cycle:", ", ".join(group))
    files = sorted(file_lengths().items(), key=lambda kv: -kv[1])[:5]
    print("longest files:", ", ".join(f"{m} {n}" for m, n in files))
    funcs = sorted(function_lengths().items(), key=lambda kv: -kv[1])[:5]
    print("longest functions:", ", ".join(f"{m} {n}" for m, n in funcs))
    print("loop imports models:", loop_imports() or "none")
