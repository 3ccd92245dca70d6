"""Item probabilities for the batch-softmax corrections.

Batch softmax samples each batch's candidates with probability q_j
proportional to the item's frequency in the data the batch came from. The
sampling-bias correction of Yi et al. (RecSys 2019, reference [28] of the
CDN paper, the "batch softmax" it uses) subtracts log q_j from the logits so
the model estimates the full softmax instead of one that penalizes popular
items. The LogQ long-tail baseline (logit adjustment) instead *adds*
w·log π_j in training, shifting scores towards tail items at serving.
"""

from typing import Dict

import tensorflow as tf


class ItemProbability(tf.keras.layers.Layer):
  """item id -> (frequency / total)^exponent; unseen items get the smallest
  nonzero probability so log() stays finite. The exponent s scales the
  correction −log q_j to −s·log q_j."""

  def __init__(self, frequencies: Dict[str, int], exponent: float = 1.0,
               **kwargs):
    super().__init__(**kwargs)
    total = float(sum(frequencies.values())) or 1.0
    seen = {k: v for k, v in frequencies.items() if v > 0}
    floor = ((min(seen.values()) if seen else 1) / total) ** exponent
    keys = list(seen) or [""]
    values = [(seen[k] / total) ** exponent for k in seen] or [floor]
    self._table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, tf.string), tf.constant(values, tf.float32)),
        default_value=floor)

  def call(self, item_ids: tf.Tensor) -> tf.Tensor:
    return self._table.lookup(item_ids)


class ItemWeight(tf.keras.layers.Layer):
  """item id -> example weight (1 for items without one)."""

  def __init__(self, weights: Dict[str, float], **kwargs):
    super().__init__(**kwargs)
    keys = list(weights) or [""]
    values = [float(weights[k]) for k in weights] or [1.0]
    self._table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, tf.string), tf.constant(values, tf.float32)),
        default_value=1.0)

  def call(self, item_ids: tf.Tensor) -> tf.Tensor:
    return self._table.lookup(item_ids)


def rebalance_keep_probability(frequencies: Dict[str, int],
                               cap: int) -> Dict[str, float]:
  """item id -> min(1, cap / n_i): keeping each Ω_m example with its item's
  probability leaves an expected min(n_i, cap) examples of item i, which is
  how Ω_r is built (every tail example; a head item's down-sampled to cap,
  the most popular tail item's count)."""
  if cap < 1:
    raise ValueError(f"the re-balancing cap must be >= 1, got {cap}")
  return {i: min(1.0, cap / n) for i, n in frequencies.items() if n > 0}


def rebalanced_frequencies(frequencies: Dict[str, int],
                           cap: int) -> Dict[str, int]:
  """item id -> min(n_i, cap): the item frequencies of Ω_r."""
  return {i: min(n, cap) for i, n in frequencies.items()}
