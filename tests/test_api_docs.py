"""The docs cannot fall behind the code: every public name has a row in docs/api.md (and
every row names something that exists), and every page is reachable from docs/index.md."""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
MODULES = ["fnad", "fnad.numpy", "fnad.lax", "fnad.nn", "fnad.nn.initializers", "fnad.optim",
           "fnad.random", "fnad.ops", "fnad.data", "fnad.tree", "fnad.debug", "fnad.image",
           "fnad.sharding", "fnad.profiler", "fnad.dlpack", "fnad.scipy.optimize",
           "fnad.scipy.ndimage", "fnad.scipy.fft", "fnad.scipy.interpolate", "fnad.scipy.cluster.vq",
           "fnad.scipy.spatial.transform", "fnad.scipy.sparse.linalg"]
SECTION = re.compile(r"^## `([\w.]+)`\s*$", re.M)
ROW = re.compile(r"^\| `([\w.]+)` \|", re.M)
LINK = re.compile(r"\]\(([\w.-]+\.md)(?:#[\w-]*)?\)")


def public_names(modname: str) -> set[str]:
    """`__all__` where a module has one; otherwise its attributes not starting with `_`,
    submodules left out. For fnad.numpy, the functions it defines (its dtype and constant
    re-exports from NumPy are listed in one paragraph) and those of `linalg`."""
    mod = importlib.import_module(modname)
    if modname == "fnad.numpy":
        names = {n for n, v in vars(mod).items() if not n.startswith("_") and callable(v)
                 and not inspect.ismodule(v)
                 and (getattr(v, "__module__", None) or "").startswith("fnad")}
        return names | {f"linalg.{n}" for n in mod.linalg.__all__}
    if hasattr(mod, "__all__"):
        return set(mod.__all__)
    return {n for n, v in vars(mod).items() if not n.startswith("_") and not inspect.ismodule(v)}


def documented() -> dict[str, set[str]]:
    """The names in the table rows of each `## `module`` section of api.md."""
    text = (DOCS / "api.md").read_text()
    heads = list(SECTION.finditer(text))
    return {m.group(1): set(ROW.findall(text[m.end(): nxt.start() if nxt else len(text)]))
            for m, nxt in zip(heads, heads[1:] + [None])}


def suggestion(modname: str, name: str) -> str:
    """The row to add: the first paragraph of the docstring."""
    obj = importlib.import_module(modname)
    for part in name.split("."):
        obj = getattr(obj, part)
    doc = (inspect.getdoc(obj) or "").split("\n\n")[0].replace("\n", " ").split(">>>")[0]
    return f"| `{name}` | {doc.strip()} |"


@pytest.mark.parametrize("modname", MODULES)
def test_every_public_name_is_in_the_api_reference(modname: str) -> None:
    sections = documented()
    assert modname in sections, f"docs/api.md has no section '## `{modname}`'"
    missing = sorted(public_names(modname) - sections[modname], key=str.lower)
    assert not missing, (f"docs/api.md, section `{modname}`, lacks rows for {missing}; add "
                         "(and edit) these:\n" + "\n".join(suggestion(modname, n)
                                                           for n in missing))


@pytest.mark.parametrize("modname", MODULES)
def test_every_row_of_the_api_reference_exists(modname: str) -> None:
    stale = sorted(documented().get(modname, set()) - public_names(modname))
    assert not stale, f"docs/api.md, section `{modname}`, documents names that are not " \
                      f"public there (any more): {stale}"


def test_every_page_is_linked_from_the_index() -> None:
    linked = set(LINK.findall((DOCS / "index.md").read_text()))
    pages = {p.name for p in DOCS.glob("*.md")} - {"index.md"}
    assert not pages - linked, f"docs/index.md does not link {sorted(pages - linked)}"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_links_between_pages_resolve(page: pathlib.Path) -> None:
    broken = sorted({t for t in LINK.findall(page.read_text()) if not (DOCS / t).exists()})
    assert not broken, f"{page.name} links to missing pages {broken}"
