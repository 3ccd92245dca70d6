"""CDN's thinned regularizer batch: the Ω_m batch's rows kept with
probability min(1, cap / n_i) stand in for a second batch read from Ω_r."""


import numpy as np
import pytest
import tensorflow as tf

from cdnrec.core import features as F
from cdnrec.models import config as config_lib
from cdnrec.models import registry
from cdnrec.models.modules import loss as loss_lib
from cdnrec.models.modules import sampling


def test_keep_probability_reproduces_the_rebalanced_counts():
  frequencies = {"head": 400, "edge": 100, "tail": 7, "unseen": 0}
  keep = sampling.rebalance_keep_probability(frequencies, cap=100)
  assert keep == {"head": 0.25, "edge": 1.0, "tail": 1.0}
  # Expected kept examples per item = n_i · keep_i = Ω_r's min(n_i, cap).
  expected = {i: frequencies[i] * p for i, p in keep.items()}
  assert expected == {
      i: n for i, n in sampling.rebalanced_frequencies(frequencies,
                                                       100).items() if n}
  with pytest.raises(ValueError, match="cap"):
    sampling.rebalance_keep_probability(frequencies, cap=0)


def test_thinned_needs_the_separate_loss():
  with pytest.raises(ValueError, match="needs cdn_loss='separate'"):
    config_lib.TrainConfig.from_dict({"model": "cdn", "cdn_loss": "joint",
                                      "regularizer_batch": "thinned"})
  # "auto" follows the reading: one setting switches both.
  thinned = config_lib.TrainConfig.from_dict(
      {"model": "cdn", "regularizer_batch": "thinned"})
  drawn = config_lib.TrainConfig.from_dict(
      {"model": "cdn", "regularizer_batch": "drawn"})
  assert thinned.resolved_cdn_loss == "separate"
  assert drawn.resolved_cdn_loss == "joint"


def test_cdn_thins_by_default_and_algorithm_1_is_one_setting_away():
  resolved = lambda **kw: (
      lambda c: (c.resolved_regularizer_batch, c.resolved_cdn_loss))(
          config_lib.TrainConfig.from_dict(kw))
  assert resolved(model="cdn") == ("thinned", "separate")
  assert resolved(model="cdn", regularizer_batch="drawn") == ("drawn",
                                                             "joint")
  assert resolved(model="cdn", cdn_loss="joint") == ("drawn", "joint")
  assert resolved(model="cdn", cdn_loss="separate") == ("thinned",
                                                       "separate")
  # The other bilateral models keep their papers' second batch.
  assert resolved(model="bbn") == ("drawn", "joint")
  assert resolved(model="bdn", cdn_loss="separate") == ("drawn", "separate")
  with pytest.raises(ValueError, match="regularizer_batch must be"):
    config_lib.TrainConfig.from_dict({"model": "cdn",
                                      "regularizer_batch": "half"})


def _built_and_batch(tiny_batch, frequencies, cap, model="cdn",
                     batch_size=256):
  feature_config, vocab, batch = tiny_batch(batch_size)
  # No dropout: the tests recompute the towers' outputs outside the step.
  config = config_lib.TrainConfig(model=model, cdn_loss="separate",
                                  regularizer_batch="thinned", seed=7,
                                  dropout=0.0)
  built = registry.build(config, feature_config, vocab, frequencies, 10,
                         rebalance_cap=cap)
  built.model.compile(optimizer=tf.keras.optimizers.Adam(0.001))
  return built, batch


def test_thinning_keeps_rows_at_their_items_rate(tiny_batch):
  # Two classes of items in the batch: "popular" ones kept with 0.2,
  # the rest always.
  built, batch = _built_and_batch(tiny_batch, {}, cap=1)
  ids = batch[F.ITEM_ID].numpy()
  popular = sorted(set(ids))[::2]
  frequencies = {i.decode(): (5 if i in popular else 1) for i in set(ids)}
  built, batch = _built_and_batch(tiny_batch, frequencies, cap=1)
  model = built.model
  is_popular = np.isin(ids, popular)
  kept = []
  for step in range(40):
    model.optimizer.iterations.assign(step)
    kept.append(model.thinning_mask(batch[F.ITEM_ID]).numpy())
  kept = np.array(kept)
  assert kept[:, ~is_popular].all()
  rate = kept[:, is_popular].mean()
  assert 0.15 < rate < 0.25, rate
  # A fresh draw every step, the same draw for the same step.
  assert not (kept[0] == kept[1]).all()
  model.optimizer.iterations.assign(3)
  np.testing.assert_array_equal(
      model.thinning_mask(batch[F.ITEM_ID]).numpy(), kept[3])


def test_thinned_loss_scores_the_kept_rows_as_the_regularizer_batch(
    tiny_batch):
  built, batch = _built_and_batch(tiny_batch, {}, cap=1)
  ids = batch[F.ITEM_ID].numpy()
  frequencies = {}
  for i, n in zip(*np.unique(ids, return_counts=True)):
    frequencies[i.decode()] = int(n) * 3
  built, batch = _built_and_batch(tiny_batch, frequencies, cap=6)
  model = built.model
  model.optimizer.iterations.assign(5)
  loss = float(model.compute_loss(batch, training=True))

  keep = model.thinning_mask(batch[F.ITEM_ID]).numpy()
  assert 0 < keep.sum() < len(keep)
  users, items = model.user_model, model.item_model
  x_m = users(batch)
  x_r = tf.boolean_mask(users.regularizer(batch), keep)
  y = items(batch)
  total = sum(frequencies.values())
  q_m = np.array([frequencies[i.decode()] / total for i in ids], "float32")
  capped = {i: min(n, 6) for i, n in frequencies.items()}
  q_r = np.array([capped[i.decode()] / sum(capped.values())
                  for i in ids[keep]], "float32")
  alpha = float(model.alpha())
  expected = (
      alpha * float(loss_lib.batch_softmax_loss(
          x_m, y, 0.1, q_m, label_ids=[tf.constant(ids)])) +
      (1 - alpha) * float(loss_lib.batch_softmax_loss(
          x_r, tf.boolean_mask(y, keep), 0.1, q_r,
          label_ids=[tf.constant(ids[keep])])))
  assert loss == pytest.approx(expected, rel=1e-5)
  # The regularizer half matters: all rows dropped gives another loss.
  assert loss != pytest.approx(alpha * float(loss_lib.batch_softmax_loss(
      x_m, y, 0.1, q_m, label_ids=[tf.constant(ids)])), rel=1e-4)


def test_branch_aware_item_towers_embed_the_kept_rows(tiny_batch):
  # experts_balanced trains one expert per branch: the kept rows, ragged
  # features included, go through the item tower as the regularizer's.
  feature_config, _, batch = tiny_batch(128)
  assert any(f.kind == F.Kind.CATEGORICAL_LIST
             for f in feature_config.item_features)
  ids = [i.decode() for i in batch[F.ITEM_ID].numpy()]
  frequencies = {i: 4 * ids.count(i) for i in set(ids)}
  built, batch = _built_and_batch(tiny_batch, frequencies, cap=2,
                                  model="experts_balanced", batch_size=128)
  model = built.model
  with tf.GradientTape() as tape:
    loss = model.compute_loss(batch, training=True)
  balanced = model.item_model.experts[1].trainable_variables
  grads = tape.gradient(loss, balanced)
  assert np.isfinite(float(loss))
  # Only kept (regularizer) rows train the balanced expert, and some did.
  assert any(float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)
