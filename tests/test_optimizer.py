"""Lazy Adam: Keras's Adam on the rows a batch touches, nothing elsewhere."""

import numpy as np
import tensorflow as tf

from cdnrec.models import optimizer


def _steps(cls, batches):
  table = tf.Variable(np.arange(12, dtype=np.float32).reshape(6, 2) / 10)
  opt = cls(0.1)
  for rows in batches:
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tf.square(tf.gather(table, rows)))
    grad = tape.gradient(loss, [table])
    assert isinstance(grad[0], tf.IndexedSlices)
    opt.apply_gradients(zip(grad, [table]))
  return table.numpy()


def test_every_row_touched_is_adam():
  batches = [[0, 1, 2, 3, 4, 5, 5], [5, 4, 3, 2, 1, 0]]
  np.testing.assert_allclose(_steps(optimizer.LazyAdam, batches),
                             _steps(tf.keras.optimizers.Adam, batches),
                             atol=1e-5)


def test_untouched_rows_do_not_move():
  start = np.arange(12, dtype=np.float32).reshape(6, 2) / 10
  lazy = _steps(optimizer.LazyAdam, [[0, 1], [0, 2]])
  dense = _steps(tf.keras.optimizers.Adam, [[0, 1], [0, 2]])
  np.testing.assert_array_equal(lazy[3:], start[3:])
  # Keras's Adam keeps moving row 1 at the second step on its momentum.
  assert not np.allclose(lazy[1], dense[1])


def test_auto_is_lazy_only_for_large_vocabularies():
  assert type(optimizer.make(0.1, "auto", 1000)) is tf.keras.optimizers.Adam
  assert isinstance(optimizer.make(0.1, "auto", 10**6), optimizer.LazyAdam)
  assert isinstance(optimizer.make(0.1, "lazy", 10), optimizer.LazyAdam)
  assert type(optimizer.make(0.1, "dense", 10**6)) is tf.keras.optimizers.Adam
