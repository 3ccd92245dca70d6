"""CDN's item side (§3.1, Eq. 3): memorization and generalization experts
mixed by a frequency gate."""

from typing import Dict, Optional, Sequence

import tensorflow as tf

from cdnrec.core import features as F
from cdnrec.models import inputs
from cdnrec.models.modules import encoders
from cdnrec.models.modules import gate as gate_lib
from cdnrec.models.modules import item_tower as item_tower_lib
from cdnrec.models.modules import towers


class ExpertItemTower(item_tower_lib.GatedItemTower):
  """y = Σ_k G(i)_k E_k^mm(i_mm) + Σ_k G(i)_k E_k^gen(i_gen).

  The memorization features are the item id's embedding; the generalization
  features are the item's content (genres, year, title, ...). Each expert is
  an MLP of `expert_layers` (ReLU between layers, linear output, the
  towers' dropout after hidden layers); one layer of 64 units is the
  paper's (appendix B.3), the default is the towers' [256, 128, 64].
  `memorization_layers`, when given, sizes the memorization experts apart.

  With `normalize_experts`, each expert's output is L2-normalized before
  the gate mixes them. Without it, an expert can scale its output to
  outweigh the gate, and under the tower's final normalization the gate
  barely moves from its initialization (docs/results.md, the gate).
  """

  def __init__(self, feature_config: F.FeatureConfig,
               vocabularies: inputs.Vocabularies,
               frequencies: Dict[str, int], *, embedding_dim: int,
               num_memorization: int, num_generalization: int,
               expert_layers: Sequence[int], normalize: bool,
               dropout: float = 0.0, l2: float = 0.0,
               name: str = "item_tower",
               memorization_layers: Optional[Sequence[int]] = None,
               normalize_experts: bool = False):
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
    self.memorization_experts = [
        towers.mlp(memorization_layers or expert_layers, dropout=dropout,
                   l2=l2, name=f"memorization_expert_{k}")
        for k in range(num_memorization)]
    self.generalization_experts = [
        towers.mlp(expert_layers, dropout=dropout, l2=l2,
                   name=f"generalization_expert_{k}")
        for k in range(num_generalization)]
    self.gate = gate_lib.FrequencyGate(
        frequencies, num_memorization + num_generalization, name="gate")
    self._normalize = normalize
    self._normalize_experts = normalize_experts

  @property
  def num_memorization(self) -> int:
    return len(self.memorization_experts)

  def gate_weights(self, features: Dict[str, tf.Tensor]) -> tf.Tensor:
    """[batch, n1 + n2]; memorization experts first."""
    return self.gate(features[F.ITEM_ID])

  def call(self, features: Dict[str, tf.Tensor], training=False,
           branch=None) -> tf.Tensor:
    del branch  # both branches share the Mem/Gen experts
    outputs = []
    mm = self.memorization_input(features)
    outputs += [expert(mm, training=training)
                for expert in self.memorization_experts]
    if self.generalization_input is not None:
      gen = self.generalization_input(features)
      outputs += [expert(gen, training=training)
                  for expert in self.generalization_experts]
    experts = tf.stack(outputs, axis=1)                 # [B, n, units]
    if self._normalize_experts:
      experts = tf.math.l2_normalize(experts, axis=2)
    weights = self.gate_weights(features)[:, :, None]   # [B, n, 1]
    y = tf.reduce_sum(weights * experts, axis=1)
    return tf.math.l2_normalize(y, axis=1) if self._normalize else y


class _TwoExpertTower(item_tower_lib.GatedItemTower):
  """Two experts of `expert_layers` over all item features (id and
  content), for the expert-design comparisons of §4.4; same size as 1+1
  Mem/Gen."""

  def __init__(self, feature_config: F.FeatureConfig,
               vocabularies: inputs.Vocabularies, *, embedding_dim: int,
               expert_layers: Sequence[int], normalize: bool, dropout: float,
               l2: float, name: str):
    super().__init__(name=name)
    id_feature = F.Feature(F.ITEM_ID, F.ITEM_ID, F.Kind.CATEGORICAL)
    self.features_input = encoders.FeatureEncoder(
        [id_feature] + feature_config.item_features, vocabularies,
        embedding_dim, l2, name="item_features")
    self.experts = [towers.mlp(expert_layers, dropout=dropout, l2=l2,
                               name=f"expert_{k}") for k in range(2)]
    self._normalize = normalize

  def _finish(self, y):
    return tf.math.l2_normalize(y, axis=1) if self._normalize else y


class BalancedExpertItemTower(_TwoExpertTower):
  """Unbalanced/Balanced experts: the first learns only from Ω_m items, the
  second only from Ω_r items; a frequency gate mixes them at serving."""

  def __init__(self, feature_config: F.FeatureConfig,
               vocabularies: inputs.Vocabularies, frequencies: Dict[str, int],
               *, embedding_dim: int, expert_layers: Sequence[int],
               normalize: bool, dropout: float = 0.0, l2: float = 0.0,
               name: str = "item_tower"):
    super().__init__(feature_config, vocabularies,
                     embedding_dim=embedding_dim, expert_layers=expert_layers,
                     normalize=normalize, dropout=dropout, l2=l2, name=name)
    self.gate = gate_lib.FrequencyGate(frequencies, 2, name="gate")

  num_memorization = 1  # for gate summaries: expert 0 is "unbalanced"
  branch_aware = True  # each branch trains only its own expert

  def gate_weights(self, features):
    return self.gate(features[F.ITEM_ID])

  def call(self, features, training=False, branch=None):
    x = self.features_input(features)
    unbalanced = self.experts[0](x, training=training)
    balanced = self.experts[1](x, training=training)
    # Each branch's examples train only their own expert.
    if branch == "main":
      balanced = tf.stop_gradient(balanced)
    elif branch == "regularizer":
      unbalanced = tf.stop_gradient(unbalanced)
    w = self.gate_weights(features)
    return self._finish(w[:, :1] * unbalanced + w[:, 1:] * balanced)


class HeadTailItemTower(_TwoExpertTower):
  """Head/Tail experts: one for head items, one for tail items, chosen by a
  0-1 gate on the item's head flag."""

  def __init__(self, feature_config: F.FeatureConfig,
               vocabularies: inputs.Vocabularies, head_items: Sequence[str],
               *, embedding_dim: int, expert_layers: Sequence[int],
               normalize: bool, dropout: float = 0.0, l2: float = 0.0,
               name: str = "item_tower"):
    super().__init__(feature_config, vocabularies,
                     embedding_dim=embedding_dim, expert_layers=expert_layers,
                     normalize=normalize, dropout=dropout, l2=l2, name=name)
    keys = list(head_items) or [""]
    self._is_head = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, tf.string),
            tf.constant([1.0 if head_items else 0.0] * len(keys))),
        default_value=0.0)

  num_memorization = 1  # expert 0 is the head expert

  def gate_weights(self, features):
    head = tf.reshape(self._is_head.lookup(features[F.ITEM_ID]), [-1, 1])
    return tf.concat([head, 1.0 - head], axis=1)

  def call(self, features, training=False, branch=None):
    x = self.features_input(features)
    w = self.gate_weights(features)
    return self._finish(w[:, :1] * self.experts[0](x, training=training) +
                        w[:, 1:] * self.experts[1](x, training=training))
