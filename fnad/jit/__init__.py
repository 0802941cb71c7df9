"""The jit compiler: `jit` (api.py), optimization passes (passes.py) and compiled
executables (executable.py) lowered by the backends in `fnad.backends`.
"""

from fnad.jit.api import Jitted, disable_jit, jit
from fnad.jit.executable import Executable, compile_jaxpr
from fnad.jit.passes import optimize

__all__ = ["Executable", "Jitted", "compile_jaxpr", "disable_jit", "jit", "optimize"]
