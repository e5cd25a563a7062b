"""The house's floors: imports point down only, no private name crosses a package, domain code draws nothing."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "eqspike_xbar"
DOMAIN = ("eqspike", "synapses", "devices", "crossbar", "spice", "programming")
TOP_FLOOR = ("cli", "commands", "figures", "report", "experiments")


def _imports(path: Path):
    """(absolute module name, imported names) of every import in one module of the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ((node.module,) if node.module else ()))
            else:
                module = node.module or ""
            yield module, [a.name for a in node.names]


def _modules(sub: str):
    return sorted((PACKAGE / sub).rglob("*.py"))


@pytest.mark.parametrize("sub", DOMAIN)
def test_domain_packages_import_nothing_from_the_top_floor(sub):
    for path in _modules(sub):
        for module, names in _imports(path):
            parts = module.split(".")
            if parts[0] == "eqspike_xbar":
                targets = names if len(parts) == 1 else [parts[1]]  # from .. import io / from ..x import y
                assert not set(targets) & set(TOP_FLOOR), f"{path.relative_to(PACKAGE)} imports {module} {names}"
            assert parts[0] not in ("matplotlib", "argparse"), f"{path.relative_to(PACKAGE)} imports {parts[0]}"


def test_no_private_name_is_imported_across_packages():
    for path in sorted(PACKAGE.rglob("*.py")):
        here = path.relative_to(PACKAGE.parent).parts[:2]
        for module, names in _imports(path):
            if not module.startswith("eqspike_xbar"):
                continue
            there = tuple(module.split(".")[:2])
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            private += [p for p in module.split(".") if p.startswith("_") and not p.startswith("__")]
            if there != here:
                assert not private, f"{path.relative_to(PACKAGE)} imports private {private} from {module}"


def test_one_matplotlib_setup():
    """The backend is chosen once (figures/__init__.py); only figures/ and io.save_figure touch matplotlib."""
    setups = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if "matplotlib.use(" in p.read_text()]
    assert setups == ["figures/__init__.py"], setups
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if any(m.split(".")[0] == "matplotlib" for m, _ in _imports(path)):
            assert rel.startswith("figures/") or rel == "io.py", f"{rel} imports matplotlib"
