"""Process-wide settings that must be in place before TensorFlow loads.

TFRS 0.7.3 is written against Keras 2; TensorFlow 2.16 defaults to Keras 3
unless TF_USE_LEGACY_KERAS is set before `tf.keras` is first touched.
Every package of this project imports this module first, so a user never
has to set it by hand.
"""

import os
import warnings


def configure() -> None:
  os.environ["TF_USE_LEGACY_KERAS"] = "1"
  # TensorFlow's C++ start-up chatter (oneDNN, TensorRT) hides the output
  # users care about; real errors are still printed.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  # Google client libraries warn on every import that Python 3.10 is old;
  # 3.10 is what this stack needs (README, Requirements), so the warning
  # says nothing.
  warnings.filterwarnings("ignore", message=".*non-supported Python version",
                          category=FutureWarning)
  # The pinned Google Cloud clients (pulled in by TFX/Beam's GCP extras) warn
  # about their own future minimum versions; nothing a user can act on here.
  warnings.filterwarnings("ignore", category=FutureWarning,
                          module=r"google\.")


configure()


def keep_autograph_off_tf_keras() -> None:
  """AutoGraph leaves tf_keras's own code as written, as it does for `keras`.

  TensorFlow tells AutoGraph not to convert modules under `keras`; Keras 2
  now ships as `tf_keras`, which that rule misses, so every model's first
  traced step also transpiled Keras's internals (tens of seconds on a small
  model). Keras's code is written to run unconverted; the traced graphs and
  the losses are the same. Called by the model code once TensorFlow loads.
  """
  # A private module of the pinned TensorFlow (2.16): the rule list has no
  # public setter.
  from tensorflow.python.autograph.core import config
  if not any(isinstance(rule, config.DoNotConvert) and
             rule._prefix == "tf_keras"  # pylint: disable=protected-access
             for rule in config.CONVERSION_RULES):
    config.CONVERSION_RULES = ((config.DoNotConvert("tf_keras"),) +
                               tuple(config.CONVERSION_RULES))
