"""Process-wide settings that must be in place before TensorFlow loads.

TFRS 0.7.3 is written against Keras 2; TensorFlow 2.16 defaults to Keras 3
unless TF_USE_LEGACY_KERAS is set before `tf.keras` is first touched.
Every package of this project imports this module first, so a user never
has to set it by hand.
"""

import os


def configure() -> None:
  os.environ["TF_USE_LEGACY_KERAS"] = "1"
  # TensorFlow's C++ start-up chatter (oneDNN, TensorRT) hides the output
  # users care about; real errors are still printed.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


configure()
