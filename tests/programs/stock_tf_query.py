"""Loads a SavedModel with stock TensorFlow only (the ScaNN ops are never
registered) and prints the item ids of serve_features as JSON.

  python stock_tf_query.py MODEL_DIR REQUESTS_JSON
"""

import json
import sys

import cdnrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS; no ScaNN ops)
import tensorflow as tf


def main() -> None:
  loaded = tf.saved_model.load(sys.argv[1])
  out = loaded.signatures["serve_features"](
      **{n: tf.constant(v) for n, v in json.loads(sys.argv[2]).items()})
  print(json.dumps(out["item_ids"].numpy().astype(str).tolist()))


if __name__ == "__main__":
  main()
