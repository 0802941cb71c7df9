"""fnad.data: input pipelines for training: minibatches shuffled by explicit keys, image
augmentations as pure functions, dataset readers, and a small training loop.
"""

from fnad.data.augment import random_crop, random_horizontal_flip
from fnad.data.batching import batches, num_examples
from fnad.data.datasets import DatasetError, load_digits, load_mnist, read_idx
from fnad.data.training import FitResult, ProgressBar, fit
