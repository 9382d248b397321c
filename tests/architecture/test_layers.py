"""The packages import downwards only, in the order docs/architecture.md draws them: a module
may import its own package and the packages of lower layers, never one beside or above it."""

import ast
import pathlib

NATJAX = pathlib.Path(__file__).resolve().parents[2] / "natjax"

# Lowest first. The top-level modules are the commands and the package's face.
LAYERS = (
    ("errors",),
    ("assignment", "data", "parallel", "records", "views"),
    ("models",),
    ("objectives",),
    ("checkpoints",),
    ("evaluation",),
    ("training",),
    ("bench", "cli"),
    ("report",),
    ("__init__", "main", "evaluate", "export", "ablate", "figure2"),
)
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def package_of(path: pathlib.Path) -> str:
    """The natjax package (or top-level module) a file belongs to."""
    parts = path.relative_to(NATJAX).parts
    return parts[0] if len(parts) > 1 else path.stem


def imported(path: pathlib.Path) -> set[str]:
    """The natjax packages (or top-level modules) a file imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + (
                [f"{node.module}.{a.name}" for a in node.names] if node.module == "natjax" else []
            )
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "natjax" and len(parts) > 1:
                found.add(parts[1])
    return found


def modules() -> list[pathlib.Path]:
    return sorted(NATJAX.rglob("*.py"))


def test_every_package_has_a_layer():
    assert {package_of(p) for p in modules()} <= set(LAYER)


def test_no_module_imports_beside_or_above_its_layer():
    upward = []
    for path in modules():
        own = package_of(path)
        for other in imported(path) - {own}:
            if LAYER[other] >= LAYER[own]:
                upward.append(f"{path.relative_to(NATJAX.parent)} imports natjax.{other}")
    assert not upward, "\n".join(upward)


def test_the_checker_sees_an_upward_import(tmp_path):
    source = tmp_path / "natjax" / "models" / "bad.py"
    source.parent.mkdir(parents=True)
    source.write_text("from natjax.training import setup\nimport natjax.objectives.step\n")
    assert imported(source) == {"training", "objectives"}
