"""fnad: functional automatic differentiation and program transformation for Python."""

import builtins as _builtins

from fnad import (
    ad_checkpoint,
    backends,
    checkpoint_policies,
    data,
    debug,
    dlpack,
    dtypes,
    example_libraries,
    experimental,
    flatten_util,
    image,
    lax,
    nn,
    numpy,
    ops,
    optim,
    profiler,
    random,
    scipy,
    sharding,
    tree,
    tree_util,
    typing,
)
from fnad.api import (
    deriv,
    elementwise_grad,
    grad,
    grad_and_aux,
    hessian,
    hessian_tensor_product,
    holomorphic_grad,
    jacfwd,
    jacrev,
    jvp,
    linearize,
    make_ggnvp,
    make_hvp,
    make_jaxpr,
    make_jvp,
    make_vjp,
    tensor_jacobian_product,
    value_and_grad,
    vjp,
    vmap,
)
from fnad.api_extra import (
    ShapeDtypeStruct,
    block_until_ready,
    closure_convert,
    custom_gradient,
    ensure_compile_time_eval,
    eval_shape,
    jacobian,
    linear_transpose,
    named_call,
    named_scope,
    pure_callback,
)
from fnad.autodiff import compare_modes, print_saved_residuals
from fnad.config import config
from fnad.core.cache import clear_caches
from fnad.core.errors import (
    ArgumentError,
    ArgumentTypeError,
    ConcretizationError,
    DTypeError,
    EscapedTracerError,
    FnadError,
    ShapeError,
    TransformError,
    api_boundary as _api_boundary,
)
from fnad.core.ir import ClosedJaxpr, Jaxpr, ShapedArray, eval_jaxpr, typecheck
from fnad.cost import cost_analysis
from fnad.debugging import checking_leaks
from fnad.device import (
    Device,
    default_backend,
    device_count,
    device_get,
    device_put,
    devices,
    local_device_count,
    local_devices,
    process_count,
    process_index,
)
from fnad.distributed import pmap
from fnad.dtypes import float0
from fnad.jit.api import disable_jit, jit
from fnad.lax.custom import checkpoint, custom_jvp, custom_vjp, stop_gradient
from fnad.scipy import optimize as _scipy_optimize  # noqa: F401  (fnad.scipy.optimize)
from fnad.serialization import CheckpointError, load, save
from fnad.sharding import P, make_mesh
from fnad.typing import Array

# Errors leaving a public transform name it and the user's line, without fnad's frames.
(grad, hessian, jacfwd, jacrev, jvp, linearize, make_jaxpr, value_and_grad, vjp, vmap, pmap,
 checkpoint) = (_api_boundary(_t, _t.__name__) for _t in (
    grad, hessian, jacfwd, jacrev, jvp, linearize, make_jaxpr, value_and_grad, vjp, vmap, pmap,
    checkpoint))
remat = checkpoint
(jacobian, eval_shape, linear_transpose, closure_convert, pure_callback) = (
    _api_boundary(_t, _t.__name__) for _t in (
        jacobian, eval_shape, linear_transpose, closure_convert, pure_callback))
# autograd's differential operators (fnad.api), for autograd code after renaming imports
(deriv, elementwise_grad, grad_and_aux, hessian_tensor_product, holomorphic_grad, make_ggnvp,
 make_hvp, make_jvp, make_vjp, tensor_jacobian_product) = (
    _api_boundary(_t, _t.__name__) for _t in (
        deriv, elementwise_grad, grad_and_aux, hessian_tensor_product, holomorphic_grad,
        make_ggnvp, make_hvp, make_jvp, make_vjp, tensor_jacobian_product))
hessian_vector_product, vector_jacobian_product = hessian_tensor_product, tensor_jacobian_product
# autograd's `tuple`, `list`, `dict` and `isinstance` make containers it can differentiate
# through; every fnad transform takes plain Python containers (pytrees), so they are
# Python's own, importable here so that `from autograd import tuple` keeps working.
tuple, list, dict, isinstance = _builtins.tuple, _builtins.list, _builtins.dict, _builtins.isinstance

__version__ = "0.1.0"
