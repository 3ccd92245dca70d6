"""Builds the retrieval model a TrainConfig names."""

import dataclasses
from typing import Dict

import tensorflow as tf

from cdnrec import features as F
from models import config as config_lib
from models import inputs
from models import towers
from models import two_tower
from models.cdn import item_tower as cdn_item_tower
from models.cdn import model as cdn_model
from models.cdn import user_tower as cdn_user_tower


@dataclasses.dataclass
class BuiltModel:
  """model: what Keras trains; served_user_model: what is exported (the
  main branch only, for CDN); item_model: embeds catalog items."""
  model: tf.keras.Model
  served_user_model: tf.keras.Model
  item_model: tf.keras.Model
  needs_rebalanced: bool


def build(config: config_lib.TrainConfig, feature_config: F.FeatureConfig,
          vocab: inputs.Vocabularies, frequencies: Dict[str, int],
          steps_per_epoch: int) -> BuiltModel:
  if config.model == "two_tower":
    user = towers.user_tower(config, feature_config, vocab)
    item = towers.item_tower(config, feature_config, vocab)
    return BuiltModel(two_tower.TwoTowerModel(user, item, config.temperature),
                      user, item, needs_rebalanced=False)
  user = cdn_user_tower.BilateralUserTower(
      feature_config, vocab, config.embedding_dim, config.tower_layers,
      config.normalize, config.dropout, config.l2)
  item = cdn_item_tower.ExpertItemTower(
      feature_config, vocab, frequencies, config.embedding_dim,
      config.num_memorization_experts,
      config.num_generalization_experts if feature_config.item_features else 0,
      config.expert_units, config.normalize, config.l2)
  model = cdn_model.CdnModel(user, item, config.temperature, config.gamma,
                             steps_per_epoch, config.epochs,
                             config.alpha_unit, config.cdn_loss)
  return BuiltModel(model, cdn_user_tower.MainBranch(user), item,
                    needs_rebalanced=True)
