"""The Trainer's input: streamed from the files or cached in memory, it
yields the same examples in the same order."""

import os

import numpy as np
import tensorflow as tf

from cdnrec.core import artifacts
from cdnrec.core import example_io
from cdnrec.core import features as F
from cdnrec.models import inputs

_SPEC = {F.USER_ID: tf.io.FixedLenFeature([], tf.string),
         F.ITEM_ID: tf.io.FixedLenFeature([], tf.string)}


def _epochs(pattern, cache, epochs=2):
  # The same global seed (and op counter) for both datasets: other tests
  # in this process may have set one.
  tf.random.set_seed(0)
  dataset = inputs.examples_dataset([pattern], _SPEC, 64, shuffle=True,
                                    seed=5, cache=cache)
  return [[(u, i) for batch in dataset
           for u, i in zip(batch[F.USER_ID].numpy().tolist(),
                           batch[F.ITEM_ID].numpy().tolist())]
          for _ in range(epochs)]


def test_streamed_input_equals_the_cached_one(tiny_artifacts):
  pattern = example_io.split_pattern(tiny_artifacts["examples"].uri, "train")
  streamed, cached = _epochs(pattern, False), _epochs(pattern, True)
  assert streamed == cached
  # Reshuffled each epoch; each epoch sees distinct examples, whole batches
  # only (the last partial batch is dropped).
  assert streamed[0] != streamed[1]
  for epoch in streamed:
    assert len(set(epoch)) == len(epoch) == 1232 // 64 * 64


def test_only_small_splits_are_cached(tiny_artifacts, monkeypatch):
  pattern = example_io.split_pattern(tiny_artifacts["examples"].uri, "train")
  assert inputs.fits_in_memory([pattern])
  monkeypatch.setattr(inputs, "CACHE_MAX_BYTES", 1000)
  assert not inputs.fits_in_memory([pattern])


def test_numeric_moments_merged_by_batch_equal_numpy_on_all_values():
  rng = np.random.default_rng(0)
  batches = [rng.normal(3.0, 2.0, size=n) for n in (1, 500, 0, 37, 4096)]
  batches[1][::7] = np.nan  # missing values are left out
  moments = inputs._Moments()
  for b in batches:
    moments.add(b)
  values = np.concatenate(batches)
  values = values[~np.isnan(values)]
  mean, std = moments.mean_std()
  assert moments.count == len(values)
  np.testing.assert_allclose([mean, std], [values.mean(), values.std()],
                             rtol=1e-12)


def test_numeric_moments_of_nothing_or_a_constant_leave_values_as_they_are():
  assert inputs._Moments().mean_std() == (0.0, 1.0)
  constant = inputs._Moments()
  constant.add(np.full(10, 4.0))
  constant.add(np.array([np.nan, 4.0]))
  assert constant.mean_std() == (4.0, 1.0)


def test_vocabularies_hold_every_distinct_id_of_train_and_catalog(
    tiny_artifacts):
  examples = tiny_artifacts["examples"].uri
  train = example_io.split_pattern(examples, "train")
  users = {u for batch in inputs.examples_dataset([train], _SPEC, 64)
           for u in batch[F.USER_ID].numpy().tolist()}
  catalog = os.path.join(tiny_artifacts["item_catalog"].uri,
                         artifacts.CATALOG_FILE)
  items = {i for batch in inputs.examples_dataset(
      [catalog], {F.ITEM_ID: _SPEC[F.ITEM_ID]}, 64)
           for i in batch[F.ITEM_ID].numpy().tolist()}
  with open(os.path.join(tiny_artifacts["item_catalog"].uri,
                         artifacts.FEATURES_FILE)) as f:
    feature_config = F.FeatureConfig.from_json(f.read())
  vocab = inputs.learn_vocabularies([train], [catalog], feature_config)
  assert vocab.tokens[F.USER_ID] == sorted(u.decode() for u in users)
  assert vocab.tokens[F.ITEM_ID] == sorted(i.decode() for i in items)
