"""FeatureEncoder keeps large vocabularies out of Keras's object tracking."""

import tensorflow as tf

from cdnrec.core import features as F
from cdnrec.models import inputs
from cdnrec.models.modules import encoders


def test_vocabulary_is_not_tracked_token_by_token():
  # Keras tracks a list attribute element by element; every save and
  # weights walk would then visit each id (docs/benchmarks.md, Scale).
  ids = [f"u{i}" for i in range(1000)]
  encoder = encoders.FeatureEncoder(
      [F.Feature("user_id", "user_id", F.Kind.CATEGORICAL)],
      inputs.Vocabularies({"user_id": ids}, {}), embedding_dim=4)
  vectors = encoder({"user_id": tf.constant(["u3", "u999", "unknown"])})
  assert vectors.shape == (3, 4)
  lookup = encoder._lookups["user_id"]  # pylint: disable=protected-access
  assert lookup.vocabulary_size() == len(ids) + 1
  children = lookup._trackable_children()  # pylint: disable=protected-access
  tracked = [len(c) for c in children.values() if hasattr(c, "__len__")]
  assert max(tracked, default=0) < len(ids)
