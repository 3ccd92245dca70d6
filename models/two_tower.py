"""The plain two-tower retrieval model trained with in-batch softmax."""

from typing import Dict

import tensorflow as tf
import tensorflow_recommenders as tfrs

from cdnrec import features as F


class TwoTowerModel(tfrs.Model):
  """User tower x item tower, scored by a dot product.

  The loss is the in-batch (sampled) softmax of tfrs.tasks.Retrieval: the
  other items of the batch are the negatives, and a batch item equal to the
  positive is not counted as a negative.
  """

  def __init__(self, user_model: tf.keras.Model, item_model: tf.keras.Model,
               temperature: float = 1.0):
    super().__init__()
    self.user_model = user_model
    self.item_model = item_model
    self.task = tfrs.tasks.Retrieval(temperature=temperature,
                                     remove_accidental_hits=True)

  def compute_loss(self, features: Dict[str, tf.Tensor],
                   training: bool = False) -> tf.Tensor:
    users = self.user_model(features, training=training)
    items = self.item_model(features, training=training)
    return self.task(users, items, candidate_ids=features[F.ITEM_ID],
                     compute_metrics=False)
