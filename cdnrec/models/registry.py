"""Builds the retrieval model a TrainConfig names: CDN, the two-tower
backbone, and every baseline and ablation of the paper (§4.2-4.4).

| model             | user side                 | item side              | α_t / loss             |
| ----------------- | ------------------------- | ---------------------- | ---------------------- |
| two_tower         | one tower                 | MLP tower              | batch softmax on Ω_m   |
| class_balance     | one tower                 | MLP tower              | effective-number weights |
| logq              | one tower                 | MLP tower              | + w·log π_j in training |
| ndp               | one tower                 | MLP tower              | Ω_m, then Ω_r (2 stages) |
| idn               | one tower                 | Mem/Gen experts + gate | batch softmax on Ω_m   |
| udn               | bilateral (f, h_m, h_r)   | MLP tower              | γ-adapter              |
| bbn               | bilateral                 | MLP tower              | 1 − (t/T)²             |
| bdn               | bilateral                 | Mem/Gen experts + gate | bdn_alpha (0.5)        |
| cdn               | bilateral                 | Mem/Gen experts + gate | γ-adapter              |
| experts_balanced  | bilateral                 | Unbalanced/Balanced    | γ-adapter              |
| experts_headtail  | bilateral                 | Head/Tail, 0-1 gate    | γ-adapter              |
"""

import dataclasses
from typing import Dict, Optional, Sequence

import tensorflow as tf

from cdnrec.core import features as F
from cdnrec.models import cdn as cdn_model
from cdnrec.models import config as config_lib
from cdnrec.models import inputs
from cdnrec.models import two_tower
from cdnrec.models.modules import adapter
from cdnrec.models.modules import bilateral_user_tower as cdn_user_tower
from cdnrec.models.modules import expert_item_tower as cdn_item_tower
from cdnrec.models.modules import sampling
from cdnrec.models.modules import towers

SINGLE_USER = config_lib.SINGLE_USER_MODELS
BILATERAL = config_lib.BILATERAL_MODELS
MODELS = config_lib.MODELS
_SCHEDULES = {"bbn": adapter.BBN, "bdn": adapter.CONSTANT}


def thins_rebalanced(config: config_lib.TrainConfig) -> bool:
  """Whether a bilateral model samples Ω_r from its Ω_m batches
  (regularizer_batch="thinned") instead of reading the Ω_r files."""
  return (config.model in BILATERAL and
          config.resolved_regularizer_batch == "thinned")


def reads_rebalanced(config: config_lib.TrainConfig) -> bool:
  """Whether training reads the Ω_r files (NDP, and bilateral models that
  do not thin their Ω_m batches)."""
  return ((config.model in BILATERAL or config.model == "ndp") and
          not thins_rebalanced(config))


@dataclasses.dataclass
class BuiltModel:
  """model: what Keras trains; served_user_model: what is exported (the
  main branch only, for bilateral models); item_model: embeds items."""
  model: tf.keras.Model
  served_user_model: tf.keras.Model
  item_model: tf.keras.Model
  needs_rebalanced: bool
  two_stage: bool = False


def _item_tower(config, feature_config, vocab, frequencies, head_items):
  name = config.model
  if name in ("two_tower", "class_balance", "logq", "ndp", "udn", "bbn"):
    return towers.item_tower(config, feature_config, vocab)
  shape = dict(embedding_dim=config.embedding_dim,
               expert_layers=config.expert_layers,
               normalize=config.normalize, dropout=config.dropout,
               l2=config.l2)
  if name == "experts_balanced":
    return cdn_item_tower.BalancedExpertItemTower(
        feature_config, vocab, frequencies, **shape)
  if name == "experts_headtail":
    return cdn_item_tower.HeadTailItemTower(
        feature_config, vocab, head_items, **shape)
  return cdn_item_tower.ExpertItemTower(
      feature_config, vocab, frequencies,
      num_memorization=config.num_memorization_experts,
      num_generalization=(config.num_generalization_experts
                          if feature_config.item_features else 0),
      memorization_layers=config.memorization_expert_layers,
      normalize_experts=config.normalize_experts, **shape)


def _class_balance_weights(frequencies: Dict[str, int], beta: float):
  """Effective-number weights (Cui et al. 2019): (1 − β) / (1 − β^n),
  scaled so the average training example weighs 1."""
  raw = {i: (1 - beta) / (1 - beta ** n) for i, n in frequencies.items()
         if n > 0}
  total = sum(frequencies[i] * w for i, w in raw.items())
  count = sum(frequencies[i] for i in raw)
  return {i: w * count / total for i, w in raw.items()}


def build(config: config_lib.TrainConfig, feature_config: F.FeatureConfig,
          vocab: inputs.Vocabularies, frequencies: Dict[str, int],
          steps_per_epoch: int,
          rebalanced_frequencies: Optional[Dict[str, int]] = None,
          head_items: Sequence[str] = (),
          rebalance_cap: Optional[int] = None) -> BuiltModel:
  """Args:
    frequencies: train (Ω_m) frequency of every item.
    rebalanced_frequencies: frequency of every item in Ω_r.
    head_items: ids of head items (for experts_headtail).
    rebalance_cap: Ω_r's per-item cap (regularizer_batch="thinned").
  """
  config.validate()
  item = _item_tower(config, feature_config, vocab, frequencies, head_items)
  correction = config.sampling_correction
  strength = config.sampling_correction_strength
  if config.model in SINGLE_USER:
    user = towers.user_tower(config, feature_config, vocab)
    q = (sampling.ItemProbability(frequencies, strength)
         if correction else None)
    weights = None
    adjustment = 0.0
    if config.model == "class_balance":
      weights = sampling.ItemWeight(_class_balance_weights(
          frequencies, config.class_balance_beta))
    if config.model == "logq":
      adjustment = config.logq_weight
      q = q or sampling.ItemProbability({i: 1 for i in frequencies})
    prior = (sampling.ItemProbability(frequencies, name="prior")
             if adjustment else None)
    model = two_tower.TwoTowerModel(
        user, item, temperature=config.temperature, item_probability=q,
        item_weight=weights, prior=prior, adjustment=adjustment,
        distinct_items=config.distinct_items)
    return BuiltModel(model, user, item,
                      needs_rebalanced=reads_rebalanced(config),
                      two_stage=config.model in config_lib.TWO_STAGE_MODELS)

  user = cdn_user_tower.BilateralUserTower(
      feature_config, vocab, embedding_dim=config.embedding_dim,
      layer_sizes=config.tower_layers, normalize=config.normalize,
      dropout=config.dropout, l2=config.l2)
  keep = None
  if thins_rebalanced(config):
    if rebalance_cap is None:
      raise ValueError("regularizer_batch='thinned' needs Ω_r's cap (the "
                       "item statistics' rebalance_cap)")
    keep = sampling.ItemWeight(
        sampling.rebalance_keep_probability(frequencies, rebalance_cap),
        name="keep_probability")
    rebalanced_frequencies = sampling.rebalanced_frequencies(frequencies,
                                                             rebalance_cap)
  q_main = q_reg = None
  if correction:
    q_main = sampling.ItemProbability(frequencies, strength, name="q_main")
    q_reg = sampling.ItemProbability(rebalanced_frequencies or frequencies,
                                     strength, name="q_regularizer")
  model = cdn_model.CdnModel(
      user, item, temperature=config.temperature, gamma=config.gamma,
      steps_per_epoch=steps_per_epoch, epochs=config.epochs,
      alpha_unit=config.alpha_unit, loss=config.resolved_cdn_loss,
      q_main=q_main,
      q_regularizer=q_reg, schedule=_SCHEDULES.get(config.model, adapter.GAMMA),
      constant_alpha=config.bdn_alpha, keep_probability=keep, seed=config.seed,
      distinct_items=config.distinct_items)
  return BuiltModel(model, cdn_user_tower.MainBranch(user), item,
                    needs_rebalanced=reads_rebalanced(config))
