"""The CDN tfrs.Model: cross learning of the two user branches (§3.3).

Each training step gets a batch from Ω_m (`features["main"]`) and one from
Ω_r (`features["regularizer"]`).

The paper leaves open how the candidates of the two batches meet in the
batch softmax. `loss="joint"` (default) is the reading of Algorithm 1: the
b-th main and b-th regularizer examples form one training pair, candidate j
is the pair (i_m^j, i_r^j), and its logit for pair b is Eq. 5,
  s_bj = α x_m^b·y_m^j + (1 − α) x_r^b·y_r^j,
under one softmax whose positive is j = b (both labels of Eq. 8 sit there);
another pair sharing pair b's main or regularizer item is not a negative.
It is computed as one matrix product of [√α x_m, √(1−α) x_r] with
[√α y_m, √(1−α) y_r]. `loss="separate"` is the other reading: two batch
softmaxes, one per branch, weighted α and 1 − α.

With sampling-bias correction, each branch's logit loses log q of its own
batch's sampling distribution (q_m from Ω_m, q_r from Ω_r); for the joint
pair logit that is α log q_m + (1 − α) log q_r.

Where the Ω_r batch comes from is a second open choice. `drawn` (default,
Algorithm 1 line 5) reads a second batch of B examples from Ω_r, so the
user and item towers run over 2B rows per step. `thinned` keeps each
example of the Ω_m batch with probability min(1, cap / n_i) (a fresh draw
every step), which samples Ω_r's distribution from rows whose towers are
already computed: the extra cost is h_r and a second, smaller softmax,
which is what §3.3 ("Training and serving cost") describes. The kept rows
vary in number, so thinning goes with the `separate` loss.
"""

from typing import Dict

import tensorflow as tf
import tensorflow_recommenders as tfrs

from cdnrec.core import features as F
from cdnrec.models.modules import adapter
from cdnrec.models.modules import bilateral_user_tower as user_tower
from cdnrec.models.modules import distinct_items as distinct_items_lib
from cdnrec.models.modules import item_tower
from cdnrec.models.modules import loss as loss_lib

MAIN = "main"
REGULARIZER = "regularizer"
JOINT = "joint"
SEPARATE = "separate"


class CdnModel(tfrs.Model):
  """Bilateral user branches crossed with an item tower under an α schedule.

  With the Mem/Gen expert item tower and the γ-adapter this is CDN; other
  item towers and schedules give the paper's ablations (UDN, BBN, BDN and
  the expert designs of §4.4).
  """

  def __init__(self, user_model: tf.keras.Model,
               item_model: item_tower.ItemTower, *, temperature: float,
               gamma: float, steps_per_epoch: int, epochs: int,
               alpha_unit: str = adapter.EPOCH, loss: str = JOINT,
               q_main=None, q_regularizer=None,
               schedule: str = adapter.GAMMA, constant_alpha: float = 0.5,
               keep_probability=None,
               seed: int = 0, distinct_items: bool = False):
    super().__init__()
    if loss not in (JOINT, SEPARATE):
      raise ValueError(f"loss must be {JOINT!r} or {SEPARATE!r}, got {loss!r}")
    if schedule == adapter.GAMMA:
      adapter.alpha(1, 1, gamma)  # validates gamma
    self._schedule = schedule
    self._constant_alpha = constant_alpha
    self.user_model = user_model
    self.item_model = item_model
    self._gamma = gamma
    self._steps_per_epoch = max(1, int(steps_per_epoch))
    self._epochs = epochs
    self._alpha_unit = alpha_unit
    self._loss = loss
    self._temperature = temperature
    self._q_main = q_main
    self._q_regularizer = q_regularizer
    # Set for regularizer_batch="thinned": item id -> min(1, cap / n_i).
    self._keep_probability = keep_probability
    self._seed = seed
    self._distinct_items = distinct_items
    if keep_probability is not None and loss != SEPARATE:
      raise ValueError("a thinned regularizer batch needs the separate loss")

  def alpha(self) -> tf.Tensor:
    return adapter.alpha_at_step(self.optimizer.iterations,
                                 self._steps_per_epoch, self._epochs,
                                 self._gamma, self._alpha_unit,
                                 self._schedule, self._constant_alpha)

  def compute_loss(self, features: Dict[str, tf.Tensor],
                   training: bool = False) -> tf.Tensor:
    if (MAIN not in features and training and
        self._keep_probability is not None):
      return self._thinned_loss(features, training)
    if MAIN not in features:
      # Validation batches are plain examples: score the served branch only.
      return loss_lib.batch_softmax_loss(
          self.user_model(features), self._items(features),
          self._temperature, _q(self._q_main, features),
          label_ids=[features[F.ITEM_ID]])
    main, reg = features[MAIN], features[REGULARIZER]
    alpha = self.alpha()
    x_m, x_r = self.user_model.both_branches(main, reg, training=training)
    y_m, y_r = self._embed_items(main, reg, training)
    q_m, q_r = _q(self._q_main, main), _q(self._q_regularizer, reg)
    if self._loss == SEPARATE:
      return self._separate_loss(alpha, (x_m, y_m, q_m, main[F.ITEM_ID]),
                                 (x_r, y_r, q_r, reg[F.ITEM_ID]))
    a, b = tf.sqrt(alpha), tf.sqrt(1.0 - alpha)
    queries = tf.concat([a * x_m, b * x_r], axis=1)
    candidates = tf.concat([a * y_m, b * y_r], axis=1)
    q = None
    if q_m is not None:
      q = tf.exp(alpha * tf.math.log(q_m) + (1.0 - alpha) * tf.math.log(q_r))
    # A candidate pair sharing row b's main or regularizer item carries one
    # of row b's two labels (Eq. 8): it is not a negative.
    return loss_lib.batch_softmax_loss(
        queries, candidates, self._temperature, q,
        label_ids=[main[F.ITEM_ID], reg[F.ITEM_ID]])

  def _thinned_loss(self, features, training):
    """α·L(Ω_m batch) + (1 − α)·L(its rows kept as an Ω_r sample)."""
    alpha = self.alpha()
    ids = features[F.ITEM_ID]
    keep = self.thinning_mask(ids)
    x_m, x_r = self.user_model.branches_of_thinned(features, keep,
                                                   training=training)
    kept_ids = tf.boolean_mask(ids, keep)
    if self.item_model.branch_aware:
      y_m = self._items(features, training, branch=MAIN)
      y_r = self._items(_masked(features, keep), training, branch=REGULARIZER)
    else:
      y_m = self._items(features, training)
      y_r = tf.boolean_mask(y_m, keep)
    q_r = (None if self._q_regularizer is None
           else self._q_regularizer(kept_ids))
    return self._separate_loss(
        alpha, (x_m, y_m, _q(self._q_main, features), ids),
        (x_r, y_r, q_r, kept_ids))

  def _separate_loss(self, alpha, main, regularizer):
    """α·L(main) + (1 − α)·L(regularizer), each (queries, candidates,
    sampling probability, item ids) under its own batch softmax."""
    def branch(queries, candidates, q, ids):
      return loss_lib.batch_softmax_loss(queries, candidates,
                                         self._temperature, q,
                                         label_ids=[ids])
    return alpha * branch(*main) + (1.0 - alpha) * branch(*regularizer)

  def thinning_mask(self, item_ids: tf.Tensor) -> tf.Tensor:
    """[B] bool: row b is kept with its item's probability, drawn afresh
    every step (seeded by the seed, the step and the replica)."""
    replica = 0
    context = tf.distribute.get_replica_context()
    if context is not None:
      replica = context.replica_id_in_sync_group
    seed = tf.stack([
        tf.cast(self._seed * 4096 + replica, tf.int64),
        tf.cast(self.optimizer.iterations, tf.int64)])
    draw = tf.random.stateless_uniform(tf.shape(item_ids), seed=seed)
    return draw < self._keep_probability(item_ids)

  def _embed_items(self, main, reg, training):
    if self.item_model.branch_aware:
      # Its output depends on the branch: embed the batches separately.
      return (self._items(main, training, branch=MAIN),
              self._items(reg, training, branch=REGULARIZER))
    y = self._items(user_tower.concat_batches(main, reg), training)
    return user_tower.split_batches(y, main)

  def _items(self, features, training=False, **kwargs):
    """The item tower's embedding of every row (computed once per distinct
    item with distinct_items)."""
    return distinct_items_lib.rows(self.item_model, features, training,
                               self._distinct_items, **kwargs)


def _masked(features, keep):
  """The rows of a batch where keep is True (dense or ragged features)."""
  return {name: (tf.ragged.boolean_mask(value, keep)
                 if isinstance(value, tf.RaggedTensor)
                 else tf.boolean_mask(value, keep))
          for name, value in features.items()}


def _q(probability, features):
  return None if probability is None else probability(features[F.ITEM_ID])
