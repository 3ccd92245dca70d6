"""The plain two-tower retrieval model trained with in-batch softmax."""

from typing import Dict, Optional

import tensorflow as tf
import tensorflow_recommenders as tfrs

from cdnrec.core import features as F
from cdnrec.models.modules import distinct_items as distinct_items_lib
from cdnrec.models.modules import item_tower
from cdnrec.models.modules import loss as loss_lib


class TwoTowerModel(tfrs.Model):
  """User tower x item tower, scored by a dot product.

  The loss is the in-batch (sampled) softmax: the other items of the batch
  are the negatives, and a batch item equal to the positive is not counted
  as a negative (modules/loss.py). With `item_probability`, logits get
  the sampling-bias correction −log q_j (modules/sampling.py).

  With `distinct_items`, the item tower runs once per distinct item of a
  batch (modules/distinct_items.py).

  The long-tail baselines reuse it: `item_weight` re-weights examples by
  their item (ClassBalance); `prior` with `adjustment` w adds w·log π_j to
  training logits (LogQ logit adjustment).
  """

  def __init__(self, user_model: tf.keras.Model,
               item_model: item_tower.ItemTower, *, temperature: float = 1.0,
               item_probability: Optional[tf.keras.layers.Layer] = None,
               item_weight: Optional[tf.keras.layers.Layer] = None,
               prior: Optional[tf.keras.layers.Layer] = None,
               adjustment: float = 0.0, distinct_items: bool = False):
    super().__init__()
    self.user_model = user_model
    self.item_model = item_model
    self._item_probability = item_probability
    self._item_weight = item_weight
    self._prior = prior
    self._adjustment = adjustment
    self._temperature = temperature
    self._distinct_items = distinct_items

  def use_item_probability(self, item_probability) -> None:
    """Switches the sampling distribution (NDP's second stage)."""
    self._item_probability = item_probability
    self.train_function = None  # re-trace with the new table
    self.test_function = None

  def compute_loss(self, features: Dict[str, tf.Tensor],
                   training: bool = False) -> tf.Tensor:
    users = self.user_model(features, training=training)
    items = distinct_items_lib.rows(self.item_model, features, training,
                                self._distinct_items)
    ids = features[F.ITEM_ID]
    q = (self._item_probability(ids)
         if self._item_probability is not None else None)
    if self._prior is not None and training:
      # Subtracting log(q / π^w) adds w·log π to the logits.
      q = q / tf.pow(self._prior(ids), self._adjustment)
    weight = (self._item_weight(ids) if self._item_weight is not None and
              training else None)
    return loss_lib.batch_softmax_loss(users, items, self._temperature, q,
                                       label_ids=[ids], sample_weight=weight)
