"""CDN's user side (§3.2, Eq. 4): x_m = h_m(f(u)), x_r = h_r(f(u))."""

from typing import Dict, Sequence

import tensorflow as tf

from cdnrec.core import features as F
from cdnrec.models import inputs
from cdnrec.models.modules import encoders
from cdnrec.models.modules import towers


class BilateralUserTower(tf.keras.Model):
  """A shared sub-network f and two branch heads.

  f is the tower's hidden layers (ReLU); the heads h_m (main, trained on
  Ω_m) and h_r (regularizer, trained on Ω_r) are each the tower's last,
  linear layer. Calling the tower gives the main branch, the only one served
  (Eq. 9).
  """

  def __init__(self, feature_config: F.FeatureConfig,
               vocabularies: inputs.Vocabularies, *, embedding_dim: int,
               layer_sizes: Sequence[int], normalize: bool, dropout: float,
               l2: float, name: str = "user_tower"):
    super().__init__(name=name)
    features = ([towers.id_feature(F.USER_ID)] + feature_config.user_features)
    self.encoder = encoders.FeatureEncoder(features, vocabularies,
                                           embedding_dim, l2,
                                           name="user_features")
    regularizer = tf.keras.regularizers.l2(l2) if l2 else None
    hidden = list(layer_sizes[:-1])
    self.shared = tf.keras.Sequential(name="shared")
    for size in hidden:
      self.shared.add(tf.keras.layers.Dense(size, activation="relu",
                                            kernel_regularizer=regularizer))
      if dropout:
        self.shared.add(tf.keras.layers.Dropout(dropout))
    self.main_head = tf.keras.layers.Dense(
        layer_sizes[-1], kernel_regularizer=regularizer, name="main_head")
    self.regularizer_head = tf.keras.layers.Dense(
        layer_sizes[-1], kernel_regularizer=regularizer,
        name="regularizer_head")
    self._normalize = normalize

  def _finish(self, x):
    return tf.math.l2_normalize(x, axis=1) if self._normalize else x

  def call(self, features: Dict[str, tf.Tensor], training=False) -> tf.Tensor:
    """x_m: the main branch."""
    return self._finish(self.main_head(
        self.shared(self.encoder(features), training=training)))

  def regularizer(self, features: Dict[str, tf.Tensor],
                  training=False) -> tf.Tensor:
    """x_r: the regularizer branch (training only)."""
    return self._finish(self.regularizer_head(
        self.shared(self.encoder(features), training=training)))

  def both_branches(self, main: Dict[str, tf.Tensor],
                    regularizer: Dict[str, tf.Tensor], training=False):
    """(x_m of the Ω_m batch, x_r of the Ω_r batch) with one pass of the
    encoder and f over both batches: half the ops of two calls, which is
    what keeps a CDN step close to a two-tower step's cost."""
    shared = self.shared(self.encoder(concat_batches(main, regularizer)),
                         training=training)
    shared_main, shared_regularizer = split_batches(shared, main)
    return (self._finish(self.main_head(shared_main)),
            self._finish(self.regularizer_head(shared_regularizer)))

  def branches_of_thinned(self, features: Dict[str, tf.Tensor],
                          keep: tf.Tensor, training=False):
    """(x_m of every row, x_r of the rows where `keep` is True): the
    regularizer's examples are rows of the main batch, so f runs once over
    the batch and only h_r is extra."""
    shared = self.shared(self.encoder(features), training=training)
    return (self._finish(self.main_head(shared)),
            self._finish(self.regularizer_head(
                tf.boolean_mask(shared, keep))))


def concat_batches(first: Dict[str, tf.Tensor],
                   second: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """One batch of both batches' rows (dense or ragged features)."""
  return {name: tf.concat([first[name], second[name]], axis=0)
          for name in first}


def split_batches(rows: tf.Tensor, first: Dict[str, tf.Tensor]):
  """Undoes concat_batches on a [2B, ...] result: (first's rows, the rest).

  tf.split rather than slicing: a slice's gradient scatters into a zero
  tensor of the full size; in a profile of a CDN step that was the largest
  op after the matmuls and the softmax.
  """
  size = tf.shape(first[F.USER_ID] if F.USER_ID in first
                  else first[F.ITEM_ID])[0]
  return tf.split(rows, tf.stack([size, tf.shape(rows)[0] - size]), axis=0)


class MainBranch(tf.keras.Model):
  """What is exported: f followed by h_m, and nothing of h_r."""

  def __init__(self, tower: BilateralUserTower):
    super().__init__(name="main_branch")
    self.encoder = tower.encoder
    self.shared = tower.shared
    self.main_head = tower.main_head
    self._normalize = tower._normalize  # pylint: disable=protected-access

  def call(self, features, training=False):
    x = self.main_head(self.shared(self.encoder(features), training=training))
    return tf.math.l2_normalize(x, axis=1) if self._normalize else x
