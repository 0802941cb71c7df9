"""fnad.nn: neural-network building blocks as pure functions over parameter pytrees:
activations, losses, initializers, and layers as `(init, apply)` pairs with explicit state
(see `fnad.nn.layers` for the convention).
"""

from fnad.nn import initializers
from fnad.nn.activations import (
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    logsumexp,
    one_hot,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    swish,
    tanh,
)
from fnad.nn.attention import MultiHeadSelfAttention, TransformerBlock, dot_product_attention
from fnad.nn.layers import (
    Activation,
    AvgPool2D,
    BasicBlock,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    FanInConcat,
    FanInSum,
    FanOut,
    Flatten,
    Gelu,
    Identity,
    Layer,
    LayerNorm,
    LogSoftmax,
    MaxPool2D,
    Relu,
    Sigmoid,
    Silu,
    Softmax,
    Softplus,
    Tanh,
    parallel,
    residual,
    serial,
    split_keys,
    stateless,
)
from fnad.nn.losses import (
    binary_cross_entropy_with_logits,
    huber,
    l1_penalty,
    l2_penalty,
    mse,
    softmax_cross_entropy,
)
from fnad.nn.recurrent import RNN, Cell, GRUCell, LSTMCell, SimpleRNNCell
