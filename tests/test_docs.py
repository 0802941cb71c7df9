"""Every ```python block of the docs runs, in order, one namespace per page: the docs
cannot drift from the code."""

from __future__ import annotations

import pathlib
import re

import pytest

from fnad.jit import fusion

DEFAULT_LAUNCH_US = fusion.LAUNCH_US  # read before conftest's fixture lowers it for other tests
DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = sorted(DOCS.glob("*.md")) + [DOCS.parent / "README.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_doc_snippets_run(page: pathlib.Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fusion, "LAUNCH_US", DEFAULT_LAUNCH_US)  # what a reader's run does
    blocks = BLOCK.findall(page.read_text())
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{page.name}[block {i}]", "exec", dont_inherit=True), namespace)
        except Exception as e:  # pragma: no cover - the message is the point
            raise AssertionError(f"{page.name}, python block {i} failed:\n{code}") from e
