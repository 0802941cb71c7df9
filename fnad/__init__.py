"""fnad: functional automatic differentiation and program transformation for Python."""

from fnad import lax, numpy, tree
from fnad.api import (
    grad,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    linearize,
    make_jaxpr,
    value_and_grad,
    vjp,
    vmap,
)
from fnad.core.errors import (
    ConcretizationError,
    DTypeError,
    EscapedTracerError,
    FnadError,
    ShapeError,
    TransformError,
)
from fnad.core.ir import ClosedJaxpr, Jaxpr, ShapedArray, eval_jaxpr, typecheck

__version__ = "0.1.0"
