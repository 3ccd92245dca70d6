"""The Trainer's run_fn trains, and its SavedModel answers the same in a
fresh process as the embeddings it was built from."""

import dataclasses
import json
import re
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs

from cdnrec.core import example_io
from cdnrec.core import model_layout
from cdnrec.models import trainer

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "programs")

K = 20  # the `trained` fixture's serving_k (conftest.py)


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
  with pytest.raises(ValueError, match=r"unknown training setting epoch; "
                     r"known: .*epochs"):
    trainer.run_fn(trainer.CdnFnArgs(
        train_files=trained.train_files, eval_files=trained.eval_files,
        serving_model_dir="/unused", model_run_dir="/unused",
        custom_config={**trained.custom_config, "epoch": 3},
        item_catalog_uri=trained.item_catalog_uri,
        item_stats_uri=trained.item_stats_uri))


def test_run_fn_refuses_plain_fn_args(trained):
  with pytest.raises(ValueError, match="run it with CdnTrainer"):
    trainer.run_fn(FnArgs(
        train_files=trained.train_files, eval_files=trained.eval_files,
        serving_model_dir="/unused", model_run_dir="/unused",
        custom_config=trained.custom_config))


_FRESH_PROCESS = os.path.join(PROGRAMS, "query_pushed_model.py")


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


@pytest.mark.slow
def _query_in_a_fresh_process(serving_model_dir, tiny_artifacts):
  """query_pushed_model.py's answers for the test users: embeddings and
  top-K by features, by examples and for strangers."""
  requests, serialized = _test_users(tiny_artifacts["examples"].uri)
  project_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run(
      [sys.executable, _FRESH_PROCESS, serving_model_dir,
       json.dumps(requests), json.dumps([s.hex() for s in serialized])],
      capture_output=True, text=True, cwd=project_root, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_saved_model_round_trip_in_a_fresh_process(trained, tiny_artifacts):
  out = _query_in_a_fresh_process(trained.serving_model_dir, tiny_artifacts)

  ids, vectors = model_layout.read_item_embeddings(
      model_layout.embeddings_dir(trained.serving_model_dir))
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


def _ops(saved_model_dir):
  from tensorflow.core.protobuf import saved_model_pb2
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  graph = proto.meta_graphs[0].graph_def
  return ({n.op for n in graph.node} |
          {n.op for fn in graph.library.function for n in fn.node_def})


_STOCK_TF_ONLY = os.path.join(PROGRAMS, "stock_tf_query.py")


@pytest.mark.slow
def test_brute_force_twin_needs_only_stock_ops(trained, tiny_artifacts):
  brute_force = model_layout.brute_force_dir(trained.serving_model_dir)
  assert not any(op.startswith("Scann") for op in _ops(brute_force))
  assert any(op.startswith("Scann") for op in _ops(trained.serving_model_dir))
  requests, _ = _test_users(tiny_artifacts["examples"].uri, n=4)
  project_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run(
      [sys.executable, _STOCK_TF_ONLY, brute_force,
       json.dumps(requests)],
      capture_output=True, text=True, cwd=project_root, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "scann" not in result.stderr.lower()
  exact = json.loads(result.stdout.strip().splitlines()[-1])
  # The ScaNN twin searches every leaf here, so both give the same items.
  from cdnrec.serving import model as serving_model
  scann = serving_model.RetrievalModel(trained.serving_model_dir).query(
      requests)
  assert [set(row) for row in exact] == [set(i for i, _ in r) for r in scann]


@pytest.mark.slow
def test_warm_start_begins_where_the_last_model_ended(trained, caplog):
  from cdnrec.models import config as config_lib
  from cdnrec.models import training
  from cdnrec.models import warm_start
  with open(os.path.join(trained.model_run_dir, "training.json")) as f:
    cold = json.load(f)["history"]["val_loss"]
  data = training.TrainingInputs(
      train_files=trained.train_files, eval_files=trained.eval_files,
      item_catalog_uri=trained.item_catalog_uri,
      item_stats_uri=trained.item_stats_uri)
  config = config_lib.TrainConfig.from_dict(
      {"epochs": 1, "batch_size": 128, "serving_k": K})
  with caplog.at_level("INFO", logger="cdnrec.trainer"):
    warm = training.fit(data, config, verbose=0, warm_start_from=(
        model_layout.checkpoint_dir(trained.serving_model_dir)))
  assert re.search(r"warm start from .*: \d+ weights copied, 0 embedding "
                   r"tables remapped by token, 0 left as initialized",
                   caplog.text)
  # One epoch from the old weights ends below where the cold run's first
  # epoch ended.
  assert warm.history["val_loss"][0] < cold[0]


def test_warm_start_remaps_embedding_rows_by_token():
  from cdnrec.models import warm_start
  old = np.array([[0.0], [1.0], [2.0], [3.0]])   # OOV, a, b, c
  fresh = np.full((4, 1), -1.0)                  # OOV, b, c, d
  remapped = warm_start._remap_rows(old, fresh, ["a", "b", "c"],  # pylint: disable=protected-access
                                    ["b", "c", "d"])
  np.testing.assert_array_equal(remapped[:, 0], [0.0, 2.0, 3.0, -1.0])


def test_early_stopping_keeps_the_best_epochs_weights():
  """The callback stops after `patience` epochs without a lower validation
  loss and restores the weights of the best epoch, stopped or not."""
  from cdnrec.models import training
  model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(1,))])
  callback = training._BestWeights(2, training._validation_loss,
                                   "validation loss", higher_is_better=False)
  callback.set_model(model)
  seen = {}
  for epoch, loss in enumerate([3.0, 2.0, 2.5, 2.4, 1.0]):
    model.layers[0].kernel.assign([[float(epoch)]])
    seen[epoch] = model.get_weights()
    callback.on_epoch_end(epoch, {"val_loss": loss})
    if model.stop_training:
      break
  assert callback.stopped_epoch == 3 and callback.best_epoch == 1
  callback.restore(model)
  np.testing.assert_array_equal(model.get_weights()[0], seen[1][0])
  with pytest.raises(ValueError, match="does not report"):
    training._validation_loss({"loss": 1.0})


def test_early_stopping_on_a_score_keeps_the_highest():
  from cdnrec.models import training
  model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(1,))])
  scores = iter([0.1, 0.3, 0.2, float("nan"), 0.25])
  callback = training._BestWeights(3, lambda logs: next(scores), "NDCG",
                                   higher_is_better=True)
  callback.set_model(model)
  for epoch in range(5):
    callback.on_epoch_end(epoch, {})
    if model.stop_training:
      break
  assert callback.best_epoch == 1 and callback.stopped_epoch == 4
  assert callback.values[:3] == [0.1, 0.3, 0.2]


def test_early_stopping_is_refused_for_two_stage_models():
  from cdnrec.core.errors import ConfigError
  from cdnrec.models import config as config_lib
  with pytest.raises(ConfigError, match="one-stage models; ndp trains in "
                     "two stages"):
    config_lib.TrainConfig.from_dict({"model": "ndp",
                                      "early_stopping_patience": 2})


def test_early_stopping_in_training_keeps_the_lowest_validation_loss(trained):
  from cdnrec.models import config as config_lib
  from cdnrec.models import training
  data = training.TrainingInputs(
      train_files=trained.train_files, eval_files=trained.eval_files,
      item_catalog_uri=trained.item_catalog_uri,
      item_stats_uri=trained.item_stats_uri)
  # A learning rate this high overfits the tiny data within a few epochs.
  config = config_lib.TrainConfig.from_dict(
      {"epochs": 12, "batch_size": 128, "serving_k": K,
       "learning_rate": 0.05, "early_stopping_patience": 2})
  result = training.fit(data, config, verbose=0)
  losses = result.history["val_loss"]
  assert result.kept_epoch == int(np.argmin(losses)) + 1
  ran = len(losses)
  assert ran == 12 or ran == result.kept_epoch + 2  # stopped 2 epochs on
  # The weights kept are the best epoch's: evaluating them gives its loss.
  from cdnrec.core import features as F
  from cdnrec.models import inputs
  spec = inputs.parse_spec(result.feature_config.user_features +
                           result.feature_config.item_features,
                           result.numeric_means,
                           with_ids=[F.USER_ID, F.ITEM_ID])
  again = result.built.model.evaluate(
      inputs.examples_dataset(data.eval_files, spec, 128), verbose=0,
      return_dict=True)["loss"]
  assert again == pytest.approx(losses[result.kept_epoch - 1], rel=1e-4)
  assert not np.isclose(again, losses[-1], rtol=1e-4) or (
      result.kept_epoch == ran)


def test_early_stopping_on_validation_ndcg_keeps_its_best_epoch(
    trained, tiny_artifacts):
  """Watching validation NDCG@serving_k: the kept epoch is the one with
  the highest, and the weights kept rank the validation split as well as
  that epoch did (the Evaluator's ranking, recomputed after training)."""
  from cdnrec.core import item_stats
  from cdnrec.core import queries as queries_lib
  from cdnrec.core import ranking
  from cdnrec.models import config as config_lib
  from cdnrec.models import training
  examples_uri = tiny_artifacts["examples"].uri
  data = training.TrainingInputs(
      train_files=trained.train_files, eval_files=trained.eval_files,
      item_catalog_uri=trained.item_catalog_uri,
      item_stats_uri=trained.item_stats_uri, examples_uri=examples_uri)
  config = config_lib.TrainConfig.from_dict(
      {"epochs": 8, "batch_size": 128, "serving_k": K,
       "learning_rate": 0.05, "early_stopping_patience": 2,
       "early_stopping_metric": "ndcg"})
  result = training.fit(data, config, verbose=0)
  ndcg = result.history[f"val_ndcg_at_{K}"]
  assert len(ndcg) == len(result.epoch_seconds) >= 3
  assert result.kept_epoch == int(np.argmax(ndcg)) + 1
  # It stopped past its best epoch, so restoring is what is checked below.
  assert result.kept_epoch < len(ndcg)
  item_ids, item_vectors = result.item_embeddings(data)
  again = ranking.evaluate_embeddings(
      result.embed_examples, item_ids, item_vectors,
      queries_lib.load(examples_uri, "eval", ranking.exclude_splits("eval"),
                       None),
      item_stats.load_item_rows(data.item_stats_uri), K, "eval")
  assert again["overall"]["ndcg"] == pytest.approx(max(ndcg), abs=1e-6)
  # Without the examples there is nothing to rank against: said clearly.
  with pytest.raises(ValueError, match="need examples_uri"):
    training.fit(dataclasses.replace(data, examples_uri=None), config,
                 verbose=0)


def test_early_stopping_metric_is_checked():
  from cdnrec.core.errors import ConfigError
  from cdnrec.models import config as config_lib
  with pytest.raises(ConfigError, match=r"early_stopping_metric must be one "
                     r"of \['loss', 'ndcg'\], got 'recall'"):
    config_lib.TrainConfig.from_dict({"early_stopping_metric": "recall"})


@pytest.mark.slow
def test_posthoc_tau_is_served_by_the_exported_model(trained, tiny_artifacts,
                                                     tmp_path):
  # The same training with posthoc_tau: the served ranking is u·v/T − τ·log π
  # (an extra coordinate), loaded back in a fresh process.
  from cdnrec.core import item_stats
  from cdnrec.core import logit_adjustment
  tau, temperature = 1.0, 0.1
  fn_args = trainer.CdnFnArgs(
      train_files=trained.train_files, eval_files=trained.eval_files,
      serving_model_dir=str(tmp_path / "model" / "Format-Serving"),
      model_run_dir=str(tmp_path / "model_run"),
      custom_config={**trained.custom_config, "epochs": 1,
                     "temperature": temperature, "posthoc_tau": tau},
      item_catalog_uri=trained.item_catalog_uri,
      item_stats_uri=trained.item_stats_uri,
      rebalanced_examples_uri=trained.rebalanced_examples_uri)
  trainer.run_fn(fn_args)
  out = _query_in_a_fresh_process(fn_args.serving_model_dir, tiny_artifacts)

  users = np.asarray(out["embeddings"])
  np.testing.assert_allclose(users[:, -1], 1.0)
  ids, vectors = model_layout.read_item_embeddings(
      model_layout.embeddings_dir(fn_args.serving_model_dir))
  frequency = {r.item_id: r.frequency for r in
               item_stats.load_item_rows(trained.item_stats_uri)}
  prior = logit_adjustment.log_prior(np.array(
      [frequency.get(i, 0) for i in ids.astype(str)]))
  np.testing.assert_allclose(vectors[:, -1], -tau * temperature * prior,
                             rtol=1e-5)
  adjusted = users @ vectors.T
  raw = users[:, :-1] @ vectors[:, :-1].T
  moved = 0
  for row, raw_row, answer in zip(adjusted, raw, out["by_features"]):
    expected = ids[np.argsort(-row, kind="stable")[:K]]
    assert set(i for i, _ in answer) == set(expected)
    # The adjustment trades score for rarity: its top K is never more
    # popular than the raw top K (an exchange argument), and here rarer.
    raw_top = np.argsort(-raw_row, kind="stable")[:K]
    adjusted_top = np.argsort(-row, kind="stable")[:K]
    assert prior[adjusted_top].sum() <= prior[raw_top].sum() + 1e-9
    moved += prior[adjusted_top].sum() < prior[raw_top].sum() - 1e-9
  assert moved > 0
