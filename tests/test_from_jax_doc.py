"""docs/from_jax.md lists every NOT_PLANNED name with its reason, exactly as
fnad/_not_planned.py has them. Run this file as a script to rewrite the table."""

from __future__ import annotations

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # as a script: this checkout's fnad, not an installed one
    sys.path.insert(0, str(ROOT))

from fnad._not_planned import NOT_PLANNED  # noqa: E402

PAGE = ROOT / "docs" / "from_jax.md"
BLOCK = re.compile(r"(<!-- not-planned:begin -->\n)(.*?)(<!-- not-planned:end -->)", re.S)


def table() -> str:
    """The markdown table of NOT_PLANNED, by module then name."""
    rows = ["| module | name | why not |", "| --- | --- | --- |"]
    for module in sorted(NOT_PLANNED):
        for name in sorted(NOT_PLANNED[module], key=str.lower):
            reason = NOT_PLANNED[module][name].replace("|", "\\|")
            rows.append(f"| `{module}` | `{name}` | {reason} |")
    return "\n".join(rows) + "\n"


def test_from_jax_page_lists_every_not_planned_name() -> None:
    found = BLOCK.search(PAGE.read_text())
    assert found, "docs/from_jax.md lost its <!-- not-planned:begin/end --> markers"
    assert found.group(2) == table(), (
        "docs/from_jax.md's table differs from fnad/_not_planned.py; run "
        "`python tests/test_from_jax_doc.py` to rewrite it")


def test_every_name_in_the_table_is_listed() -> None:
    text = BLOCK.search(PAGE.read_text()).group(2)
    for module, names in NOT_PLANNED.items():
        for name in names:
            assert f"| `{module}` | `{name}` |" in text, f"{module}.{name} is not in the table"


if __name__ == "__main__":
    text = PAGE.read_text()
    PAGE.write_text(BLOCK.sub(lambda m: m.group(1) + table() + m.group(3), text))
    sys.exit(0)
