"""The layers of shared/DESIGN.md: no module imports from a layer above its own, function-
local imports included. Lower layers reach higher ones only through hooks the higher ones
register (`fnad.interpreters.ad_util`, `fnad.jit.backends`, `fnad.core.trace.IMPL_LOADERS`).
"""

from __future__ import annotations

import ast
import pathlib

import fnad

# Lowest first; a module may import from its own layer and the ones before it.
LAYERS = ["core", "interpreters", "lax", "numpy", "api", "jit", "backends", "top"]

# Modules outside the layer packages, by the layer they belong to.
MODULES = {
    "fnad.config": "core", "fnad.tree": "core", "fnad.device": "core",
    "fnad.debugging": "interpreters",  # tracer leak and NaN checks, used by the jit
    "fnad.api": "api", "fnad.api_extra": "api", "fnad.autodiff": "api", "fnad.cost": "api",
    "fnad.scipy.optimize": "api",  # minimize takes gradients (not imported by fnad.scipy)
}
PACKAGES = {"core": "core", "interpreters": "interpreters", "lax": "lax", "numpy": "numpy",
            "scipy": "numpy", "eager": "api", "jit": "jit", "backends": "backends"}

ROOT = pathlib.Path(fnad.__file__).parent


def layer_of(module: str) -> str | None:
    """The layer of an fnad module (None for other libraries)."""
    parts = module.split(".")
    if parts[0] != "fnad":
        return None
    if len(parts) == 1:
        return "top"
    for n in range(len(parts), 1, -1):
        name = ".".join(parts[:n])
        if name in MODULES:
            return MODULES[name]
    return PACKAGES.get(parts[1], "top")


def imports(path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, those inside functions included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from fnad import lax` (and `from fnad.scipy import optimize`) import modules
            out += [(node.lineno, f"{node.module}.{a.name}"
                     if _is_module(f"{node.module}.{a.name}") else node.module)
                     for a in node.names]
    return out


def _is_module(name: str) -> bool:
    """Whether `name` (fnad.x.y) is a module or package of fnad's source tree."""
    parts = name.split(".")
    if parts[0] != "fnad":
        return False
    base = ROOT.joinpath(*parts[1:])
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def test_no_import_goes_upward() -> None:
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        own = layer_of(module)
        for line, target in imports(path):
            to = layer_of(target)
            if to is not None and LAYERS.index(to) > LAYERS.index(own):
                upward.append(f"{path.relative_to(ROOT.parent)}:{line}: {own} imports {to} "
                              f"({target})")
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_the_layer_map_names_real_modules() -> None:
    """A module not named in MODULES outside the layer packages is `top` (above all); every
    name in MODULES exists, so the map cannot go stale silently."""
    for name in MODULES:
        rel = pathlib.Path(*name.split(".")[1:])
        assert (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel).is_dir(), name
