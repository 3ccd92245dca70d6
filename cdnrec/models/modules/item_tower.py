"""What the models ask of an item tower, as base classes.

Every item tower maps item features to a [batch, d] embedding. Bilateral
models (CDN and its ablations) embed two batches a step, the main one and
the regularizer's; most towers treat them alike, a branch-aware one routes
each branch's gradient to its own expert. Gated towers also expose their
gate, which `cdnrec experiment` summarizes (the paper's Fig. 3).
"""

from typing import Dict, Optional

import tensorflow as tf


class ItemTower(tf.keras.Model):
  """An item tower. Subclasses implement `call(features, training, branch)`.

  Attributes:
    branch_aware: True when `call` treats the bilateral branches apart: the
      model then embeds each branch's batch on its own and passes
      `branch="main"` or `branch="regularizer"`; False towers ignore it.
  """
  branch_aware: bool = False

  def call(self, features: Dict[str, tf.Tensor], training: bool = False,
           branch: Optional[str] = None) -> tf.Tensor:
    raise NotImplementedError(f"{type(self).__name__} must implement call")


class GatedItemTower(ItemTower):
  """An item tower whose experts a gate mixes per item.

  Subclasses implement `call` and `gate_weights`, and set num_memorization:
  the first num_memorization experts memorize (the item id), the rest
  generalize (content) or play that role in the §4.4 designs.
  """
  num_memorization: int = 0

  def gate_weights(self, features: Dict[str, tf.Tensor]) -> tf.Tensor:
    """[batch, number of experts] mixing weights, each row summing to 1."""
    raise NotImplementedError(
        f"{type(self).__name__} must implement gate_weights")
