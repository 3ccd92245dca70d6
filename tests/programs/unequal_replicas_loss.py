"""The batch softmax loss over two logical CPUs whose replicas hold 3 and 5
rows, beside the single-device loss of all 8 rows; prints both as JSON.

  python unequal_replicas_loss.py
"""

import json

import cdnrec  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import numpy as np
import tensorflow as tf


def main() -> None:
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  from cdnrec.models.modules import loss as loss_lib
  rng = np.random.default_rng(0)
  queries = rng.normal(size=(8, 4)).astype("f")
  candidates = rng.normal(size=(8, 4)).astype("f")
  q = rng.uniform(0.01, 0.2, size=8).astype("f")
  ids = np.array([0, 1, 2, 1, 3, 4, 5, 6])
  rows = {0: slice(0, 3), 1: slice(3, 8)}  # 3 rows on one replica, 5 on the other
  strategy = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
  def part(array):
    return strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(array[rows[ctx.replica_id_in_sync_group]]))
  def step(x, y, p, i):
    return loss_lib.batch_softmax_loss(x, y, 0.5, p, label_ids=[i])
  per_replica = strategy.run(step, args=(part(queries), part(candidates),
                                         part(q), part(ids)))
  mirrored = float(strategy.reduce("SUM", per_replica, axis=None))
  single = float(loss_lib.batch_softmax_loss(queries, candidates, 0.5, q,
                                             label_ids=[tf.constant(ids)]))
  print(json.dumps({"mirrored": mirrored, "single": single}))


if __name__ == "__main__":
  main()
