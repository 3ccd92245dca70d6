"""The Trainer's run_fn trains, and its SavedModel answers the same in a
fresh process as the embeddings it was built from."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs

from components import example_io
from models import export
from models import trainer

K = 20


@pytest.fixture(scope="module")
def trained(tiny_artifacts, tmp_path_factory):
  out = tmp_path_factory.mktemp("trained")
  examples = tiny_artifacts["examples"].uri
  custom = {
      "epochs": 4, "batch_size": 128, "top_k": K,
      # Search every leaf and re-score every item exactly, so ScaNN's answer
      # must equal brute force.
      "scann_num_leaves": 8, "scann_leaves_to_search": 8,
      "scann_reordering": 10_000,
      trainer.ITEM_CATALOG_URI: tiny_artifacts["item_catalog"].uri,
      trainer.ITEM_STATS_URI: tiny_artifacts["item_stats"].uri,
      trainer.REBALANCED_URI: tiny_artifacts["rebalanced_examples"].uri,
  }
  fn_args = FnArgs(
      train_files=[example_io.split_pattern(examples, "train")],
      eval_files=[example_io.split_pattern(examples, "eval")],
      serving_model_dir=str(out / "model" / "Format-Serving"),
      model_run_dir=str(out / "model_run"),
      custom_config=custom)
  trainer.run_fn(fn_args)
  return fn_args


def test_training_lowers_the_loss(trained):
  with open(os.path.join(trained.model_run_dir, "training.json")) as f:
    report = json.load(f)
  history = report["history"]
  # Every leaf searched and every item re-scored: the index is exact.
  assert report[f"index_recall_at_{K}"] == 1.0
  assert len(history["loss"]) == 4
  assert all(np.isfinite(history["loss"]))
  assert history["loss"][-1] < history["loss"][0]


def test_unknown_training_setting_is_refused(trained):
  with pytest.raises(ValueError, match=r"unknown training settings \['epoch'\]"):
    trainer.run_fn(FnArgs(
        train_files=trained.train_files, eval_files=trained.eval_files,
        serving_model_dir="/unused", model_run_dir="/unused",
        custom_config={**trained.custom_config, "epoch": 3}))


_FRESH_PROCESS = r"""
import json, sys
import tensorflow as tf
from serving import model as serving_model
model = serving_model.RetrievalModel(sys.argv[1])
requests = json.loads(sys.argv[2])
examples = [bytes.fromhex(h) for h in json.loads(sys.argv[3])]
by_features = model.query(requests)
by_examples = model.query_examples(examples)
embed = model._loaded.signatures["embed_users"]
specs = model.feature_specs
embeddings = embed(**{n: tf.constant(requests[n], s.dtype)
                      for n, s in specs.items()})["embeddings"].numpy()
strangers = model.query({"user_id": ["nobody", ""],
                         "user_age": ["never-seen", ""]})
print(json.dumps({"by_features": by_features, "by_examples": by_examples,
                  "embeddings": embeddings.tolist(), "strangers": strangers}))
"""


def _test_users(examples_uri, n=8):
  records = list(tf.data.TFRecordDataset(
      tf.io.gfile.glob(example_io.split_pattern(examples_uri, "test")),
      compression_type="GZIP").take(n))
  serialized = [r.numpy() for r in records]
  requests = {}
  for s in serialized:
    f = tf.train.Example.FromString(s).features.feature
    for name, value in f.items():
      if name.startswith("user_"):
        requests.setdefault(name, []).append(
            " ".join(v.decode() for v in value.bytes_list.value))
  return requests, serialized


def test_saved_model_round_trip_in_a_fresh_process(trained, tiny_artifacts):
  requests, serialized = _test_users(tiny_artifacts["examples"].uri)
  project_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run(
      [sys.executable, "-c", _FRESH_PROCESS, trained.serving_model_dir,
       json.dumps(requests), json.dumps([s.hex() for s in serialized])],
      capture_output=True, text=True, cwd=project_root, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])

  ids, vectors = export.read_item_embeddings(
      export.embeddings_dir(trained.serving_model_dir))
  scores = np.asarray(out["embeddings"]) @ vectors.T
  for row, answer in zip(scores, out["by_features"]):
    assert len(answer) == K
    # Brute force: the K best items, by the same embeddings.
    expected = ids[np.argsort(-row, kind="stable")[:K]]
    got_scores = np.array([s for _, s in answer])
    np.testing.assert_allclose(got_scores, np.sort(row)[::-1][:K], atol=1e-4)
    assert set(i for i, _ in answer) == set(expected)
  for a, b in zip(out["by_features"], out["by_examples"]):
    assert [i for i, _ in a] == [i for i, _ in b]
  # Unknown users and unseen values fall into OOV buckets, never fail.
  assert [len(r) for r in out["strangers"]] == [K, K]
