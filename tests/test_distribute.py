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
         "distribution": distribution,
         "dropout": 0.0})  # replicas draw their own dropout masks
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


_UNEQUAL_REPLICAS = r"""
import json
import cdnrec  # TF_USE_LEGACY_KERAS before TensorFlow loads
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from models import loss as loss_lib
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
"""


def test_replicas_with_unequal_batches_score_the_global_batch():
  # A thinned CDN batch keeps a different number of rows on each replica:
  # each replica's positives must still be found among the gathered rows.
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([sys.executable, "-c", _UNEQUAL_REPLICAS],
                          capture_output=True, text=True, cwd=root,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  np.testing.assert_allclose(out["mirrored"], out["single"], rtol=1e-5)
