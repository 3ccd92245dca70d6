"""Training under a mirrored strategy over two logical CPU devices matches a
single-device run: the batch softmax sees the global batch on every
replica, gradients are summed, so only float rounding differs."""

import json
import os
import subprocess
import sys

import numpy as np

_TRAIN_BOTH = r"""
import json, sys
import cdnrec  # TF_USE_LEGACY_KERAS before TensorFlow loads
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from models import config as config_lib
from models import training
data = training.TrainingInputs(**json.loads(sys.argv[1]))
out = {}
for model in ("two_tower", "cdn"):
  for distribution in ("default", "mirrored"):
    config = config_lib.TrainConfig.from_dict(
        {"model": model, "epochs": 2, "batch_size": 128, "seed": 3,
         "distribution": distribution})
    trained = training.fit(data, config, verbose=0)
    ids, vectors = trained.item_embeddings(data)
    replicas = trained.built.model.distribute_strategy.num_replicas_in_sync
    out[f"{model}/{distribution}"] = {
        "replicas": replicas, "loss": trained.history["loss"],
        "items": vectors[:50].tolist()}
print(json.dumps(out))
"""


def test_mirrored_over_two_cpus_matches_one_device(tiny_artifacts):
  from components import example_io
  examples = tiny_artifacts["examples"].uri
  data = {
      "train_files": [example_io.split_pattern(examples, "train")],
      "eval_files": [example_io.split_pattern(examples, "eval")],
      "item_catalog_uri": tiny_artifacts["item_catalog"].uri,
      "item_stats_uri": tiny_artifacts["item_stats"].uri,
      "rebalanced_uri": tiny_artifacts["rebalanced_examples"].uri}
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([sys.executable, "-c", _TRAIN_BOTH,
                           json.dumps(data)], capture_output=True, text=True,
                          cwd=root, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  for model in ("two_tower", "cdn"):
    single, mirrored = out[f"{model}/default"], out[f"{model}/mirrored"]
    assert single["replicas"] == 1 and mirrored["replicas"] == 2
    np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=1e-3)
    np.testing.assert_allclose(mirrored["items"], single["items"], atol=1e-3)
