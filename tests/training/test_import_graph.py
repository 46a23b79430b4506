"""The model and training modules import each other without cycles, function-local imports included, and training
never imports inference (what both need lives in neutral modules: `soundwave.processor`, `soundwave.prompts`)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "soundwave"


def module_imports(package: Path, prefixes: tuple[str, ...]) -> dict[str, set[str]]:
    """module -> the `soundwave` modules it imports anywhere in its body (module level or inside functions)."""
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        if not name.startswith(prefixes):
            continue
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start inside `graph`, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return [*path, start]
            if nxt in graph and nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_model_and_training_modules_have_no_import_cycle():
    graph = module_imports(PACKAGE, ("soundwave.model.", "soundwave.training."))
    assert {"soundwave.model.soundwave", "soundwave.model.loading", "soundwave.training.trainer"} <= set(graph)
    cycles = [cycle for name in sorted(graph) if (cycle := cycle_through(graph, name))]
    assert not cycles, " ; ".join(" -> ".join(c) for c in cycles)


def test_training_never_imports_inference():
    graph = module_imports(PACKAGE, ("soundwave.training.",))
    found = {name: sorted(t for t in targets if t.startswith("soundwave.inference")) for name, targets in graph.items()}
    assert not {name: targets for name, targets in found.items() if targets}
