"""The user (query) and item (candidate) towers of the two-tower backbone."""

from typing import Dict, Sequence

import tensorflow as tf

from cdnrec.core import features as F
from cdnrec.models import inputs
from cdnrec.models.modules import encoders
from cdnrec.models.modules import item_tower as item_tower_lib


def mlp(layer_sizes: Sequence[int], *, dropout: float, l2: float,
        name: str) -> tf.keras.Sequential:
  """ReLU hidden layers and a linear output layer of layer_sizes[-1] units."""
  regularizer = tf.keras.regularizers.l2(l2) if l2 else None
  layers = []
  for size in layer_sizes[:-1]:
    layers.append(tf.keras.layers.Dense(size, activation="relu",
                                        kernel_regularizer=regularizer))
    if dropout:
      layers.append(tf.keras.layers.Dropout(dropout))
  layers.append(tf.keras.layers.Dense(layer_sizes[-1],
                                      kernel_regularizer=regularizer))
  return tf.keras.Sequential(layers, name=name)


def id_feature(name: str) -> F.Feature:
  return F.Feature(name, name, F.Kind.CATEGORICAL)


class Tower(tf.keras.Model):
  """Features -> FeatureEncoder -> MLP -> (optionally L2-normalized) vector."""

  def __init__(self, features: Sequence[F.Feature],
               vocabularies: inputs.Vocabularies, *, embedding_dim: int,
               layer_sizes: Sequence[int], normalize: bool, dropout: float,
               l2: float, name: str):
    super().__init__(name=name)
    self.encoder = encoders.FeatureEncoder(features, vocabularies,
                                           embedding_dim, l2,
                                           name=f"{name}_features")
    self.network = mlp(layer_sizes, dropout=dropout, l2=l2,
                       name=f"{name}_mlp")
    self._normalize = normalize

  def call(self, inputs: Dict[str, tf.Tensor], training=False,
           branch=None) -> tf.Tensor:
    del branch  # one tower serves both branches of bilateral models
    x = self.network(self.encoder(inputs), training=training)
    return tf.math.l2_normalize(x, axis=1) if self._normalize else x


class MlpItemTower(Tower, item_tower_lib.ItemTower):
  """The two-tower model's item tower: one MLP over the item's id and
  content; both branches of a bilateral model share it."""


def user_tower(config, feature_config: F.FeatureConfig,
               vocabularies: inputs.Vocabularies, name="user_tower") -> Tower:
  return Tower([id_feature(F.USER_ID)] + feature_config.user_features,
               vocabularies, embedding_dim=config.embedding_dim,
               layer_sizes=config.tower_layers, normalize=config.normalize,
               dropout=config.dropout, l2=config.l2, name=name)


def item_tower(config, feature_config: F.FeatureConfig,
               vocabularies: inputs.Vocabularies,
               name="item_tower") -> MlpItemTower:
  return MlpItemTower(
      [id_feature(F.ITEM_ID)] + feature_config.item_features, vocabularies,
      embedding_dim=config.embedding_dim, layer_sizes=config.tower_layers,
      normalize=config.normalize, dropout=config.dropout, l2=config.l2,
      name=name)
