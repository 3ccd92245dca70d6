"""The Trainer's input: streamed from the files or cached in memory, it
yields the same examples in the same order."""

from cdnrec.core import example_io
from cdnrec.core import features as F
from cdnrec.models import inputs
import tensorflow as tf

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
