"""The docstring examples of the fnad.numpy modules added for JAX's API run and print
what they say (they are the one runnable example each public function carries)."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

MODULES = ["fnad.numpy._calculus", "fnad.numpy._dtypes", "fnad.numpy._manip",
           "fnad.numpy._math", "fnad.numpy._poly", "fnad.numpy._sets", "fnad.numpy._sorting",
           "fnad.numpy._stats", "fnad.numpy._windows", "fnad.lax._composites"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), extraglobs={"np": np},
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
