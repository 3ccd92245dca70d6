"""Turns raw feature tensors into one dense vector per example."""

from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from cdnrec.core import features as F
from cdnrec.models import inputs


class FeatureEncoder(tf.keras.layers.Layer):
  """Embeds and concatenates a set of features.

  Categorical features go through a vocabulary lookup (one OOV bucket, so an
  unseen value never fails a request) and an embedding; token lists are
  mean-pooled; numbers are standardized.

  Example:
    encoder = FeatureEncoder([Feature("item_id", "item_id", Kind.CATEGORICAL)],
                             vocabularies, embedding_dim=64)
    vectors = encoder({"item_id": tf.constant(["i1", "i2"])})  # [2, 64]
  """

  def __init__(self, features: Sequence[F.Feature],
               vocabularies: inputs.Vocabularies, embedding_dim: int,
               l2: float = 0.0, **kwargs):
    super().__init__(**kwargs)
    self._features = list(features)
    self._lookups: Dict[str, tf.keras.layers.Layer] = {}
    self._embeddings: Dict[str, tf.keras.layers.Layer] = {}
    self._numeric: Dict[str, tuple] = {}
    regularizer = tf.keras.regularizers.l2(l2) if l2 else None
    for f in self._features:
      if f.kind == F.Kind.NUMERIC:
        self._numeric[f.name] = vocabularies.numeric.get(f.name, (0.0, 1.0))
        continue
      vocab = vocabularies.tokens.get(f.name, [])
      # An array, not a list: Keras tracks a list attribute element by
      # element, and every walk of the layer tree (saving a SavedModel, a
      # checkpoint, collecting weights) then visits each token of a
      # million-id vocabulary (docs/benchmarks.md, Scale).
      self._lookups[f.name] = tf.keras.layers.StringLookup(
          vocabulary=np.array(vocab, dtype=object) if vocab else None,
          mask_token=None,
          num_oov_indices=1, name=f"{f.name}_lookup")
      self._embeddings[f.name] = tf.keras.layers.Embedding(
          len(vocab) + 1, embedding_dim, embeddings_regularizer=regularizer,
          name=f"{f.name}_embedding")

  @property
  def features(self) -> List[F.Feature]:
    return list(self._features)

  def call(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
    parts = []
    for f in self._features:
      value = inputs[f.name]
      if f.kind == F.Kind.NUMERIC:
        mean, std = self._numeric[f.name]
        parts.append(tf.reshape((tf.cast(value, tf.float32) - mean) / std,
                                [-1, 1]))
      elif f.kind == F.Kind.CATEGORICAL_LIST:
        ids = tf.ragged.map_flat_values(self._lookups[f.name], value)
        vectors = tf.ragged.map_flat_values(self._embeddings[f.name], ids)
        # An empty list pools to zeros rather than NaN.
        parts.append(tf.math.divide_no_nan(
            tf.reduce_sum(vectors, axis=1),
            tf.cast(tf.expand_dims(vectors.row_lengths(), 1), tf.float32)))
      else:
        parts.append(self._embeddings[f.name](self._lookups[f.name](value)))
    return tf.concat(parts, axis=1)
