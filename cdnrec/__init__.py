"""cdnrec: Cross Decoupling Network retrieval as a TFX pipeline."""

from cdnrec import _environment  # noqa: F401  (must run before TensorFlow loads)

__version__ = "0.1.0"
