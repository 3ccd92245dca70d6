"""Loads a pushed SavedModel in a fresh process (so nothing of the training
process helps) and prints its answers as JSON.

  python query_pushed_model.py MODEL_DIR REQUESTS_JSON EXAMPLES_HEX_JSON
"""

import json
import sys

import cdnrec  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow as tf

from cdnrec.serving import model as serving_model


def main() -> None:
  model = serving_model.RetrievalModel(sys.argv[1])
  requests = json.loads(sys.argv[2])
  examples = [bytes.fromhex(h) for h in json.loads(sys.argv[3])]
  by_features = model.query(requests)
  by_examples = model.query_examples(examples)
  embed = model._loaded.signatures["embed_users"]
  specs = model.feature_specs
  embeddings = embed(**{n: tf.constant(requests[n], s.dtype)
                        for n, s in specs.items()})["embeddings"].numpy()
  strangers = model.query({"user_id": ["nobody", ""],
                           "user_age": ["never-seen", ""]})
  print(json.dumps({"by_features": by_features, "by_examples": by_examples,
                    "embeddings": embeddings.tolist(), "strangers": strangers}))


if __name__ == "__main__":
  main()
