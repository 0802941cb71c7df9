"""API coverage: every public name of JAX 0.10.2 and optax (tests/data/jax_names.json) is
in fnad, or listed in fnad._not_planned.NOT_PLANNED with a reason.

A section enters COMPLETE when its work lands; from then on a missing name fails. The
other sections report what they lack (skipped with the count and the first names).
"""

from __future__ import annotations

import importlib
import json
import pathlib

import pytest

from fnad._not_planned import NOT_PLANNED

NAMES = json.loads((pathlib.Path(__file__).parent / "data" / "jax_names.json").read_text())
# JAX/optax module -> (fnad module, names)
SECTIONS = {key.split(" -> ")[0].split(" ")[0]: (key.split(" -> ")[1].split(" ")[0], names)
            for key, names in NAMES["modules"].items()}

# JAX/optax sections that are complete: from then on a missing name fails.
COMPLETE: set[str] = {
    "jax",
    "jax.lax",
    "jax.nn",
    "jax.nn.initializers",
    "jax.numpy",
    "jax.numpy.fft",
    "jax.numpy.linalg",
    "jax.random",
    "jax.scipy.linalg",
    "jax.scipy.special",
    "jax.scipy.stats",
    "jax.tree",
    "jax.tree_util",
    "optax",
}


def _missing(section: str) -> list[str]:
    module, names = SECTIONS[section]
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return list(names)
    planned_out = NOT_PLANNED.get(module, {})
    return [n for n in names if not hasattr(mod, n) and n not in planned_out]


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_section_covered(section: str) -> None:
    missing = _missing(section)
    if section not in COMPLETE:
        if missing:
            pytest.skip(f"{section}: {len(missing)} of {len(SECTIONS[section][1])} names "
                        f"missing, e.g. {missing[:8]}")
        return
    module = SECTIONS[section][0]
    assert not missing, f"{module} lacks {missing} (add them, or list them in NOT_PLANNED)"


@pytest.mark.parametrize("module", sorted(NOT_PLANNED))
def test_not_planned_entries_are_real_and_reasoned(module: str) -> None:
    """Every NOT_PLANNED name is a name of that section, absent from fnad, with a reason."""
    names = {n for mod, ns in SECTIONS.values() if mod == module for n in ns}
    assert names, f"NOT_PLANNED names an unknown module {module}"
    try:
        mod = importlib.import_module(module)
    except ImportError:
        mod = None
    for name, reason in NOT_PLANNED[module].items():
        assert name in names, f"{module}.{name} is not a JAX/optax name of that section"
        assert mod is None or not hasattr(mod, name), f"{module}.{name} exists: drop it"
        assert len(reason.split()) >= 4, f"{module}.{name}: give a real reason"
        assert "not done" not in reason and "todo" not in reason.lower()
