"""The tf.distribute strategy a TrainConfig names."""

import functools

import tensorflow as tf

DEFAULT = "default"
MIRRORED = "mirrored"
MULTI_WORKER = "multi_worker"
STRATEGIES = (DEFAULT, MIRRORED, MULTI_WORKER)


# One strategy object per process and kind: two MirroredStrategy objects in
# one process hand out clashing collective instance keys (a second training
# run then fails with "Shape mismatch in the collective instance").
@functools.lru_cache(maxsize=None)
def strategy(name: str) -> tf.distribute.Strategy:
  """default: one device. mirrored: every local GPU, or every logical CPU
  device when there is no GPU (how the tests get two replicas).
  multi_worker: MultiWorkerMirroredStrategy, configured by TF_CONFIG as
  Vertex AI Training and Kubeflow's TFJob set it."""
  if name == DEFAULT:
    return tf.distribute.get_strategy()
  if name == MIRRORED:
    devices = ([d.name for d in tf.config.list_logical_devices("GPU")] or
               [d.name for d in tf.config.list_logical_devices("CPU")])
    return tf.distribute.MirroredStrategy(devices=devices)
  if name == MULTI_WORKER:
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ValueError(f"distribution must be one of {list(STRATEGIES)}, got "
                   f"{name!r}")
