"""Every method of the comparison builds, scores a batch and trains on tiny
generated data."""

import numpy as np
import pytest
import tensorflow as tf

from cdnrec.core import example_io
from cdnrec.core import item_stats
from cdnrec.models import cdn
from cdnrec.models import config as config_lib
from cdnrec.models import registry
from cdnrec.models import training


@pytest.mark.parametrize("model", config_lib.MODELS)
def test_method_builds_and_scores_a_batch(tiny_artifacts, tiny_batch, model):
  # Eager, one batch: the model assembles and its loss is a finite scalar
  # that depends on the towers' weights (no training; see below). Seeded:
  # some unseeded draws gave a loss within 0.1% of the zeroed towers' one.
  tf.keras.utils.set_random_seed(0)
  feature_config, vocab, batch = tiny_batch(32)
  rows = item_stats.load_item_rows(tiny_artifacts["item_stats"].uri)
  frequencies = {r.item_id: r.frequency for r in rows}
  config = config_lib.TrainConfig(model=model, epochs=2, batch_size=32,
                                  gamma=1.5, dropout=0.0)
  built = registry.build(config, feature_config, vocab, frequencies, 4,
                         rebalanced_frequencies=frequencies,
                         head_items=[r.item_id for r in rows if r.is_head],
                         rebalance_cap=3)
  # Bilateral models read the step (α_t) off the optimizer.
  built.model.compile(optimizer=tf.keras.optimizers.Adam(0.001))
  features = ({cdn.MAIN: batch, cdn.REGULARIZER: batch}
              if model in config_lib.BILATERAL_MODELS and
              not registry.thins_rebalanced(config) else batch)
  loss = built.model.compute_loss(features, training=True)
  assert loss.shape == () and np.isfinite(loss.numpy())
  user = built.served_user_model(batch, training=False)
  item = built.item_model(batch, training=False)
  assert user.shape == item.shape == (32, config.tower_layers[-1])
  for w in built.model.trainable_weights:
    w.assign(tf.zeros_like(w))
  # The loss depends on the towers: zeroed, they give another value.
  assert float(built.model.compute_loss(features, training=True)) != \
      pytest.approx(float(loss), rel=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("model", config_lib.MODELS)
def test_method_trains_a_few_steps(tiny_artifacts, model):
  examples = tiny_artifacts["examples"].uri
  data = training.TrainingInputs(
      train_files=[example_io.split_pattern(examples, "train")],
      eval_files=[example_io.split_pattern(examples, "eval")],
      item_catalog_uri=tiny_artifacts["item_catalog"].uri,
      item_stats_uri=tiny_artifacts["item_stats"].uri,
      rebalanced_uri=tiny_artifacts["rebalanced_examples"].uri)
  config = config_lib.TrainConfig(model=model, epochs=2, batch_size=128,
                                  gamma=1.5)
  trained = training.fit(data, config, verbose=0)
  assert len(trained.history["loss"]) == 2
  assert np.all(np.isfinite(trained.history["loss"]))
  ids, vectors = trained.item_embeddings(data)
  assert vectors.shape == (len(ids), 64)
  assert np.all(np.isfinite(vectors))
  tf.keras.backend.clear_session()


def test_unknown_model_is_refused():
  with pytest.raises(ValueError, match="model must be one of"):
    config_lib.TrainConfig.from_dict({"model": "three_tower"})



def _loss(tiny_artifacts, tiny_batch, **settings):
  tf.keras.utils.set_random_seed(0)
  feature_config, vocab, batch = tiny_batch(32)
  rows = item_stats.load_item_rows(tiny_artifacts["item_stats"].uri)
  frequencies = {r.item_id: r.frequency for r in rows}
  config = config_lib.TrainConfig(epochs=2, batch_size=32, dropout=0.0,
                                  **settings)
  built = registry.build(config, feature_config, vocab, frequencies, 4,
                         rebalanced_frequencies=frequencies,
                         rebalance_cap=3)
  built.model.compile(optimizer=tf.keras.optimizers.Adam(0.001))
  features = ({cdn.MAIN: batch, cdn.REGULARIZER: batch}
              if config.model in config_lib.BILATERAL_MODELS and
              not registry.thins_rebalanced(config) else batch)
  return float(built.model.compute_loss(features, training=True))


def test_correction_strength_and_logq_are_one_family(tiny_artifacts,
                                                     tiny_batch):
  # LogQ's w·log π on top of the correction −s·log q (π = q) is the
  # correction at strength s − w: the frontier's two curves continue each
  # other (experiment/methods.py KNOBS).
  half = _loss(tiny_artifacts, tiny_batch, model="two_tower",
               sampling_correction_strength=0.5)
  assert _loss(tiny_artifacts, tiny_batch, model="logq",
               logq_weight=0.5) == pytest.approx(half, rel=1e-5)
  assert _loss(tiny_artifacts, tiny_batch, model="two_tower",
               sampling_correction_strength=0.0) == pytest.approx(
                   _loss(tiny_artifacts, tiny_batch, model="two_tower",
                         sampling_correction=False), rel=1e-5)
  assert half != pytest.approx(_loss(tiny_artifacts, tiny_batch,
                                     model="two_tower"), rel=1e-3)


def test_bdn_alpha_weighs_the_branches(tiny_artifacts, tiny_batch):
  losses = [_loss(tiny_artifacts, tiny_batch, model="bdn", bdn_alpha=a)
            for a in (0.5, 0.9)]
  # One batch feeds both branches, whose towers differ (bilateral user
  # branches): another split of the weight gives another loss.
  assert losses[0] != pytest.approx(losses[1], rel=1e-4)


@pytest.mark.parametrize("settings,message", [
    ({"sampling_correction_strength": -0.5},
     "sampling_correction_strength must be >= 0"),
    ({"bdn_alpha": 0.0}, r"bdn_alpha must be in \(0, 1\]"),
])
def test_knob_ranges_are_checked(settings, message):
  with pytest.raises(ValueError, match=message):
    config_lib.TrainConfig.from_dict(settings)


def test_logq_above_one_shifts_further_than_the_correction(tiny_artifacts,
                                                           tiny_batch):
  # q / π^w exceeds 1 for w > 1: log q must not be capped at 0, or every
  # w >= 1 trains the same model.
  losses = [_loss(tiny_artifacts, tiny_batch, model="logq", logq_weight=w)
            for w in (1.0, 1.5, 2.0)]
  assert len({round(v, 4) for v in losses}) == 3
