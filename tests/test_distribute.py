"""Training under a mirrored strategy over two logical CPU devices matches a
single-device run: the batch softmax sees the global batch on every
replica, gradients are summed, so only float rounding differs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

# Training in subprocesses over two logical devices.
pytestmark = pytest.mark.slow

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "programs")

_TRAIN_BOTH = os.path.join(PROGRAMS, "train_mirrored.py")


def test_mirrored_over_two_cpus_matches_one_device(tiny_artifacts):
  from cdnrec.core import example_io
  examples = tiny_artifacts["examples"].uri
  data = {
      "train_files": [example_io.split_pattern(examples, "train")],
      "eval_files": [example_io.split_pattern(examples, "eval")],
      "item_catalog_uri": tiny_artifacts["item_catalog"].uri,
      "item_stats_uri": tiny_artifacts["item_stats"].uri,
      "rebalanced_uri": tiny_artifacts["rebalanced_examples"].uri}
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([sys.executable, _TRAIN_BOTH,
                           json.dumps(data)], capture_output=True, text=True,
                          cwd=root, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  for model in ("two_tower", "cdn"):
    single, mirrored = out[f"{model}/default"], out[f"{model}/mirrored"]
    assert single["replicas"] == 1 and mirrored["replicas"] == 2
    np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=1e-3)
    np.testing.assert_allclose(mirrored["items"], single["items"], atol=1e-3)


_UNEQUAL_REPLICAS = os.path.join(PROGRAMS, "unequal_replicas_loss.py")


def test_replicas_with_unequal_batches_score_the_global_batch():
  # A thinned CDN batch keeps a different number of rows on each replica:
  # each replica's positives must still be found among the gathered rows.
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([sys.executable, _UNEQUAL_REPLICAS],
                          capture_output=True, text=True, cwd=root,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  np.testing.assert_allclose(out["mirrored"], out["single"], rtol=1e-5)
