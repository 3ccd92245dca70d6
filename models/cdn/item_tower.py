"""CDN's item side (§3.1, Eq. 3): memorization and generalization experts
mixed by a frequency gate."""

from typing import Dict, Sequence

import tensorflow as tf

from cdnrec import features as F
from models import encoders
from models import inputs
from models.cdn import gate as gate_lib


class ExpertItemTower(tf.keras.Model):
  """y = Σ_k G(i)_k E_k^mm(i_mm) + Σ_k G(i)_k E_k^gen(i_gen).

  The memorization features are the item id's embedding; the generalization
  features are the item's content (genres, year, title, ...). Each expert is
  one dense layer of `expert_units` units (paper appendix B.3).
  """

  def __init__(self, feature_config: F.FeatureConfig,
               vocabularies: inputs.Vocabularies,
               frequencies: Dict[str, int], embedding_dim: int,
               num_memorization: int, num_generalization: int,
               expert_units: int, normalize: bool, l2: float = 0.0,
               name: str = "item_tower"):
    super().__init__(name=name)
    if not feature_config.item_features and num_generalization:
      raise ValueError("generalization experts need item content features; "
                       "the dataset has none (set num_generalization=0)")
    if num_memorization + num_generalization < 1:
      raise ValueError("need at least one expert")
    id_feature = F.Feature(F.ITEM_ID, F.ITEM_ID, F.Kind.CATEGORICAL)
    self.memorization_input = encoders.FeatureEncoder(
        [id_feature], vocabularies, embedding_dim, l2, name="memorization")
    self.generalization_input = (
        encoders.FeatureEncoder(feature_config.item_features, vocabularies,
                                embedding_dim, l2, name="generalization")
        if num_generalization else None)
    regularizer = tf.keras.regularizers.l2(l2) if l2 else None
    self.memorization_experts = [
        tf.keras.layers.Dense(expert_units, kernel_regularizer=regularizer,
                              name=f"memorization_expert_{k}")
        for k in range(num_memorization)]
    self.generalization_experts = [
        tf.keras.layers.Dense(expert_units, kernel_regularizer=regularizer,
                              name=f"generalization_expert_{k}")
        for k in range(num_generalization)]
    self.gate = gate_lib.FrequencyGate(
        frequencies, num_memorization + num_generalization, name="gate")
    self._normalize = normalize

  @property
  def num_memorization(self) -> int:
    return len(self.memorization_experts)

  def gate_weights(self, features: Dict[str, tf.Tensor]) -> tf.Tensor:
    """[batch, n1 + n2]; memorization experts first."""
    return self.gate(features[F.ITEM_ID])

  def call(self, features: Dict[str, tf.Tensor], training=False) -> tf.Tensor:
    outputs = []
    mm = self.memorization_input(features)
    outputs += [expert(mm) for expert in self.memorization_experts]
    if self.generalization_input is not None:
      gen = self.generalization_input(features)
      outputs += [expert(gen) for expert in self.generalization_experts]
    experts = tf.stack(outputs, axis=1)                 # [B, n, units]
    weights = self.gate_weights(features)[:, :, None]   # [B, n, 1]
    y = tf.reduce_sum(weights * experts, axis=1)
    return tf.math.l2_normalize(y, axis=1) if self._normalize else y
