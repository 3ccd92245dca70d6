"""The item tower run once per distinct item of a batch gives every row the
embedding, the loss and the gradients of running it on every row."""

import numpy as np
import pytest
import tensorflow as tf

from cdnrec.core import features as F
from cdnrec.models import cdn as cdn_model
from cdnrec.models import config as config_lib
from cdnrec.models import registry
from cdnrec.models.modules import distinct_items


def _distinct_count(batch):
  return len(set(batch[F.ITEM_ID].numpy()))


@pytest.mark.parametrize("model", ["two_tower", "cdn"])
def test_rows_get_their_items_embedding_and_gradient(tiny_batch, model):
  feature_config, vocab, batch = tiny_batch(256)
  assert _distinct_count(batch) < 256  # the batch repeats items
  # No dropout: rows of one item share a mask only with distinct items.
  built = registry.build(config_lib.TrainConfig(model=model, dropout=0.0,
                                                regularizer_batch="drawn"),
                         feature_config, vocab, {}, 10)
  tower = built.item_model
  weights = tf.random.stateless_normal([256, 64], seed=[1, 2])
  with tf.GradientTape(persistent=True) as tape:
    every_row = tower(batch, training=True)
    distinct = distinct_items.embed(tower, batch, training=True)
    losses = [tf.reduce_sum(weights * y) for y in (every_row, distinct)]
  np.testing.assert_allclose(distinct.numpy(), every_row.numpy(), atol=1e-6)
  for variable in tower.trainable_variables:
    expected, got = (tf.convert_to_tensor(tape.gradient(loss, variable))
                     for loss in losses)
    # Sums over rows in another order: float rounding only.
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4,
                               atol=1e-4, err_msg=variable.name)


def _loss_and_gradients(model, feature_config, vocab, features, distinct):
  tf.keras.utils.set_random_seed(3)  # the same initial weights both times
  config = config_lib.TrainConfig(model=model, distinct_items=distinct,
                                  dropout=0.0, regularizer_batch="drawn")
  built = registry.build(config, feature_config, vocab, {}, 10)
  built.model.compile(optimizer=tf.keras.optimizers.Adam(0.001))
  with tf.GradientTape() as tape:
    loss = built.model.compute_loss(features, training=True)
  grads = tape.gradient(loss, built.model.trainable_variables)
  return float(loss), [float(tf.norm(tf.convert_to_tensor(g)))
                       for g in grads]


@pytest.mark.parametrize("model", ["two_tower", "cdn"])
def test_models_train_the_same_with_distinct_items(tiny_batch, model):
  feature_config, vocab, batch = tiny_batch(256)
  features = batch
  if model == "cdn":  # a drawn Ω_r batch: the tower sees both batches' rows
    features = {cdn_model.MAIN: batch, cdn_model.REGULARIZER: batch}
  every_row = _loss_and_gradients(model, feature_config, vocab, features,
                                  distinct=False)
  distinct = _loss_and_gradients(model, feature_config, vocab, features,
                                 distinct=True)
  assert distinct[0] == pytest.approx(every_row[0], rel=1e-5)
  np.testing.assert_allclose(distinct[1], every_row[1], rtol=1e-4)
