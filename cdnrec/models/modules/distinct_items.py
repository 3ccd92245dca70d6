"""Running the item tower once per distinct item of a batch.

An item tower's input is the item's id and its catalog features, which
ExampleGen joins from one row per item: every row of a batch that holds the
same item gets the same embedding (dropout aside). A batch drawn from the
interactions repeats popular items many times (a batch of B interactions
holds Σ_i 1 − (1 − n_i / N)^B distinct items in expectation, over the
items' counts n_i; docs/benchmarks.md gives it for ml-100k), so the tower
runs over the
distinct items and the rows gather their embedding: the same forward
values, and the same gradients, at a fraction of the item side's cost.
Rows of one item share one dropout mask in a step.

The user side is left per row: a user tower's input is a request, which
can carry context of the moment (that is what the served signature
takes), so equal user ids do not make equal inputs in general.
"""

from typing import Dict

import tensorflow as tf

from cdnrec.core import features as F


def rows(item_model: tf.keras.Model, features: Dict[str, tf.Tensor],
         training: bool, distinct: bool, **kwargs) -> tf.Tensor:
  """The item tower's embedding of every row: over the distinct items when
  `distinct`, else row by row."""
  if distinct:
    return embed(item_model, features, training, **kwargs)
  return item_model(features, training=training, **kwargs)


def embed(item_model: tf.keras.Model, features: Dict[str, tf.Tensor],
          training: bool = False, **kwargs) -> tf.Tensor:
  """item_model(features) row by row, computed over the distinct item ids.

  Example:
    y = embed(item_tower, batch, training=True)  # [B, d], like item_tower(batch)
  """
  ids = features[F.ITEM_ID]
  distinct, row_to_distinct = tf.unique(ids)
  # The first row of each distinct item stands for it.
  first_rows = tf.math.unsorted_segment_min(
      tf.range(tf.size(ids)), row_to_distinct, tf.size(distinct))
  # Inside a tf.function, gathers of features the tower does not read are
  # pruned.
  representatives = {name: tf.gather(value, first_rows)
                     for name, value in features.items()}
  embeddings = item_model(representatives, training=training, **kwargs)
  return tf.gather(embeddings, row_to_distinct)
