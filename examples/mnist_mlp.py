"""Placeholder for the MNIST-style MLP demo (to be replaced): prints a small jaxpr."""

import numpy

import fnad

print(fnad.make_jaxpr(lambda x: fnad.numpy.sin(x) * 2.0)(numpy.ones(3, numpy.float32)))
