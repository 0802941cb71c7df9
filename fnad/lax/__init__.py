"""fnad.lax: the primitives and their `jax.lax`-shaped wrappers, one module per family.

Each family module lists its public wrappers in `__all__`; they are all re-exported here.
"""

from fnad.lax.callback import *  # noqa: F403
from fnad.lax.collectives import *  # noqa: F403
from fnad.lax.control_flow import *  # noqa: F403
from fnad.lax.conv import *  # noqa: F403
from fnad.lax.custom import *  # noqa: F403
from fnad.lax.elementwise import *  # noqa: F403
from fnad.lax.fft import *  # noqa: F403
from fnad.lax.linalg import *  # noqa: F403
from fnad.lax.linalg_decomp import *  # noqa: F403
from fnad.lax.reduction import *  # noqa: F403
from fnad.lax.sorting import *  # noqa: F403
from fnad.lax.special import *  # noqa: F403
from fnad.lax.structural import *  # noqa: F403

# isort: split
# last, so that conv_dimension_numbers is the one returning a ConvDimensionNumbers
from fnad.lax._composites import *  # noqa: F403
