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
  # 3.10 is what this stack needs (see README), so the warning says nothing.
  warnings.filterwarnings("ignore", message=".*non-supported Python version",
                          category=FutureWarning)
  # The pinned Google Cloud clients (pulled in by TFX/Beam's GCP extras) warn
  # about their own future minimum versions; nothing a user can act on here.
  warnings.filterwarnings("ignore", category=FutureWarning,
                          module=r"google\.")


configure()
