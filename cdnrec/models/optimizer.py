"""Adam that updates only the embedding rows a batch touches.

Keras's Adam decays the moments of every row of an embedding table at every
step, even for a sparse gradient: its cost per step grows with the
vocabulary (a million items is a few hundred MB of moments read and written
per step). This variant ("lazy" Adam, as TensorFlow Addons' LazyAdam) moves
a row's moments and weights only when the row is in the batch; dense
variables are updated exactly as Keras's Adam does. With every row in every
batch the two are the same.
"""

import tensorflow as tf

# Id vocabularies above this size train with lazy updates under
# sparse_updates="auto"; every dataset in docs/results.md is below it.
AUTO_LAZY_ROWS = 100_000


class LazyAdam(tf.keras.optimizers.Adam):
  """Adam with row-wise updates for sparse (embedding) gradients."""

  def update_step(self, gradient, variable):
    if not isinstance(gradient, tf.IndexedSlices) or self.amsgrad:
      return super().update_step(gradient, variable)
    lr = tf.cast(self.learning_rate, variable.dtype)
    local_step = tf.cast(self.iterations + 1, variable.dtype)
    beta_1 = tf.cast(self.beta_1, variable.dtype)
    beta_2 = tf.cast(self.beta_2, variable.dtype)
    alpha = (lr * tf.sqrt(1 - tf.pow(beta_2, local_step)) /
             (1 - tf.pow(beta_1, local_step)))
    key = self._var_key(variable)
    m = self._momentums[self._index_dict[key]]
    v = self._velocities[self._index_dict[key]]
    # Rows that appear several times in the batch get their summed gradient.
    rows, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position,
                                          tf.shape(rows)[0])
    m_rows = beta_1 * tf.gather(m, rows) + (1 - beta_1) * values
    v_rows = beta_2 * tf.gather(v, rows) + (1 - beta_2) * tf.square(values)
    m.scatter_update(tf.IndexedSlices(m_rows, rows))
    v.scatter_update(tf.IndexedSlices(v_rows, rows))
    variable.scatter_sub(tf.IndexedSlices(
        alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon), rows))


def make(learning_rate: float, sparse_updates: str, largest_vocabulary: int):
  """The optimizer a TrainConfig asks for (config.sparse_updates)."""
  lazy = (sparse_updates == "lazy" or
          (sparse_updates == "auto" and largest_vocabulary > AUTO_LAZY_ROWS))
  cls = LazyAdam if lazy else tf.keras.optimizers.Adam
  return cls(learning_rate)
