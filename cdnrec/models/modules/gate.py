"""The frequency gate of CDN §3.1.2: G(i) = softmax(W g(freq_i))."""

import math
from typing import Dict

import tensorflow as tf


class FrequencyGate(tf.keras.layers.Layer):
  """Softmax weights over n experts from an item's train frequency.

  g(freq) = log(1 + freq) / log(1 + max freq), a scalar in [0, 1]. Log scale
  because frequencies span the imbalance factor (thousands): on a linear
  scale every tail item would sit at ~0. A scalar through W (plus a bias)
  lets the softmax slide monotonically from generalization experts (rare
  items) to memorization experts (popular items) with 2n parameters, which
  even a small dataset fits; a bucketized input would need data in every
  bucket. Items unseen in train get frequency 0.

  Example:
    gate = FrequencyGate({"i1": 500, "i2": 1}, num_experts=2)
    gate(tf.constant(["i1", "i2"]))  # [2, 2], rows sum to 1
  """

  def __init__(self, frequencies: Dict[str, int], num_experts: int, **kwargs):
    super().__init__(**kwargs)
    if num_experts < 1:
      raise ValueError(f"num_experts must be >= 1, got {num_experts}")
    top = max(frequencies.values(), default=0)
    scale = math.log1p(top) or 1.0
    keys = list(frequencies)
    values = [math.log1p(frequencies[k]) / scale for k in keys]
    self._table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys or [""], tf.string),
            tf.constant(values or [0.0], tf.float32)),
        default_value=0.0)
    self._logits = tf.keras.layers.Dense(num_experts, name="gate_logits")

  def scaled_frequency(self, item_ids: tf.Tensor) -> tf.Tensor:
    return tf.reshape(self._table.lookup(item_ids), [-1, 1])

  def call(self, item_ids: tf.Tensor) -> tf.Tensor:
    return tf.nn.softmax(self._logits(self.scaled_frequency(item_ids)), axis=-1)
