"""Trains the two-tower and CDN on one device and mirrored over two logical
CPUs (which must be configured before TensorFlow starts, hence a process of
its own); prints losses and item embeddings as JSON.

  python train_mirrored.py TRAINING_INPUTS_JSON
"""

import json
import sys

import cdnrec  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow as tf


def main() -> None:
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  from cdnrec.models import config as config_lib
  from cdnrec.models import training
  data = training.TrainingInputs(**json.loads(sys.argv[1]))
  out = {}
  for model in ("two_tower", "cdn"):
    for distribution in ("default", "mirrored"):
      config = config_lib.TrainConfig.from_dict(
          {"model": model, "epochs": 2, "batch_size": 128, "seed": 3,
           "distribution": distribution,
           # Replicas draw their own dropout and thinning masks; the
           # thinned batch over replicas is test_distribute's other test.
           "dropout": 0.0, "regularizer_batch": "drawn"})
      trained = training.fit(data, config, verbose=0)
      ids, vectors = trained.item_embeddings(data)
      replicas = trained.built.model.distribute_strategy.num_replicas_in_sync
      out[f"{model}/{distribution}"] = {
          "replicas": replicas, "loss": trained.history["loss"],
          "items": vectors[:50].tolist()}
  print(json.dumps(out))


if __name__ == "__main__":
  main()
