"""The CDN pieces: γ-adapter schedule, frequency gate, main-branch export,
and training through run_fn with each reading of the loss and of the
regularizer batch."""

import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from cdnrec.core import example_io
from cdnrec.core import features as F
from cdnrec.models import config as config_lib
from cdnrec.models import export
from cdnrec.models import inputs
from cdnrec.models import registry
from cdnrec.models import trainer
from cdnrec.models.modules import adapter
from cdnrec.models.modules import gate


def test_alpha_follows_equation_6():
  # α_t = 1 − (t / (γ T))²
  assert math.isclose(float(adapter.alpha(1, 10, 2.0)), 1 - (1 / 20) ** 2,
                      rel_tol=1e-6)
  assert math.isclose(float(adapter.alpha(10, 10, 2.0)), 0.75, rel_tol=1e-6)
  assert math.isclose(float(adapter.alpha(0, 10, 3.0)), 1.0)


def test_alpha_counts_epochs_or_steps():
  # 4 steps per epoch, 2 epochs, γ = 2: epoch unit gives t = 1 for steps 0-3
  # and t = 2 for steps 4-7.
  epoch = [float(adapter.alpha_at_step(s, 4, 2, 2.0)) for s in range(8)]
  assert epoch[:4] == pytest.approx([1 - (1 / 4) ** 2] * 4)
  assert epoch[4:] == pytest.approx([1 - (2 / 4) ** 2] * 4)
  # step unit: t / T = (s + 1) / 8.
  step = [float(adapter.alpha_at_step(s, 4, 2, 2.0, adapter.STEP))
          for s in range(8)]
  assert step == pytest.approx([1 - ((s + 1) / 16) ** 2 for s in range(8)])


def test_gamma_must_exceed_one():
  with pytest.raises(ValueError, match="gamma must be > 1"):
    adapter.alpha(1, 10, 1.0)


def test_gate_weights_sum_to_one_and_follow_frequency():
  g = gate.FrequencyGate({"pop": 1000, "rare": 1, "none": 0}, num_experts=3)
  ids = tf.constant(["pop", "rare", "none", "never-seen"])
  weights = g(ids).numpy()
  assert weights.shape == (4, 3)
  np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
  scaled = g.scaled_frequency(ids).numpy().ravel()
  # log1p(freq) / log1p(1000); unseen items count as 0.
  np.testing.assert_allclose(
      scaled, [1.0, math.log(2) / math.log(1001), 0.0, 0.0], rtol=1e-6)
  # Unseen and zero-frequency items get identical gates.
  np.testing.assert_allclose(weights[2], weights[3])


def _features_and_vocabularies(tiny_artifacts):
  catalog = tiny_artifacts["item_catalog"].uri
  with open(os.path.join(catalog, "features.json")) as f:
    feature_config = F.FeatureConfig.from_json(f.read())
  vocab = inputs.learn_vocabularies(
      [example_io.split_pattern(tiny_artifacts["examples"].uri, "train")],
      [os.path.join(catalog, "catalog.tfrecord.gz")], feature_config)
  return feature_config, vocab


def _tiny_cdn(tiny_artifacts):
  feature_config, vocab = _features_and_vocabularies(tiny_artifacts)
  config = config_lib.TrainConfig(model="cdn", num_memorization_experts=2,
                                  num_generalization_experts=3,
                                  regularizer_batch="drawn")
  built = registry.build(config, feature_config, vocab, {"i1": 10}, 5)
  return built, feature_config


def _users(n=4):
  return {"user_id": tf.constant([f"u{i}" for i in range(n)]),
          "user_age": tf.constant(["18-24"] * n),
          "user_gender": tf.constant(["F"] * n),
          "user_occupation": tf.constant(["occ1"] * n),
          "user_region": tf.constant(["region1"] * n)}


@pytest.mark.slow
def test_export_ignores_the_regularizer_head(tiny_artifacts, tmp_path):
  built, feature_config = _tiny_cdn(tiny_artifacts)
  tower = built.model.user_model
  users = _users()
  tower.regularizer(users)  # build both heads
  item_vectors = np.random.default_rng(0).normal(size=(30, 64)).astype("f")
  item_ids = np.array([f"i{i}" for i in range(30)])

  def exported_scores(name):
    index = export.build_scann_index(item_ids, item_vectors, 5,
                                     leaves_to_search=10, num_leaves=3)
    module = export.RetrievalModule(built.served_user_model, index,
                                    feature_config.user_features, {}, 5)
    export.save(module, str(tmp_path / name))
    loaded = tf.saved_model.load(str(tmp_path / name))
    return loaded.signatures["serve_features"](**users)["scores"].numpy()

  before = exported_scores("before")
  for w in tower.regularizer_head.weights:
    w.assign(w + 1.0)
  np.testing.assert_allclose(exported_scores("after_reg"), before, atol=1e-6)
  # The check can fail: changing the main head does change the scores.
  for w in tower.main_head.weights:
    w.assign(w + 1.0)
  assert not np.allclose(exported_scores("after_main"), before, atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("cdn_loss,alpha_unit,regularizer_batch",
                         [("joint", "epoch", "drawn"),
                          ("separate", "step", "drawn"),
                          ("separate", "epoch", "thinned")])
def test_cdn_trains_through_run_fn(tiny_artifacts, tmp_path, cdn_loss,
                                   alpha_unit, regularizer_batch):
  examples = tiny_artifacts["examples"].uri
  fn_args = trainer.CdnFnArgs(
      train_files=[example_io.split_pattern(examples, "train")],
      eval_files=[example_io.split_pattern(examples, "eval")],
      serving_model_dir=str(tmp_path / "model" / "Format-Serving"),
      model_run_dir=str(tmp_path / "run"),
      custom_config={
          "model": "cdn", "epochs": 3, "batch_size": 64, "serving_k": 10,
          "cdn_loss": cdn_loss, "alpha_unit": alpha_unit, "gamma": 1.5,
          "regularizer_batch": regularizer_batch},
      item_catalog_uri=tiny_artifacts["item_catalog"].uri,
      item_stats_uri=tiny_artifacts["item_stats"].uri,
      rebalanced_examples_uri=tiny_artifacts["rebalanced_examples"].uri)
  trainer.run_fn(fn_args)
  with open(tmp_path / "run" / "training.json") as f:
    history = json.load(f)["history"]
  assert all(np.isfinite(history["loss"]))
  assert history["loss"][-1] < history["loss"][0]
  assert os.path.exists(tmp_path / "model" / "Format-Serving" /
                        "saved_model.pb")


def test_memorization_experts_can_be_sized_apart(tiny_artifacts):
  feature_config, vocab = _features_and_vocabularies(tiny_artifacts)
  config = config_lib.TrainConfig.from_dict(
      {"model": "cdn", "expert_layers": [32, 16],
       "memorization_expert_layers": [16], "regularizer_batch": "drawn"})
  item = registry.build(config, feature_config, vocab, {"i1": 10}, 5).item_model
  item({"item_id": tf.constant(["i1"]), **{
      f.name: (tf.ragged.constant([["x"]]) if f.kind ==
               F.Kind.CATEGORICAL_LIST else
               tf.constant([1.0]) if f.kind == F.Kind.NUMERIC else
               tf.constant(["x"])) for f in feature_config.item_features}})
  kernels = lambda expert: [w.shape[-1] for w in expert.weights
                            if "kernel" in w.name]
  assert kernels(item.memorization_experts[0]) == [16]
  assert kernels(item.generalization_experts[0]) == [32, 16]
  with pytest.raises(ValueError, match="must end in the experts' output"):
    config_lib.TrainConfig.from_dict(
        {"model": "cdn", "memorization_expert_layers": [32]})


@pytest.mark.parametrize("normalize_experts", [False, True])
def test_normalized_experts_leave_the_mix_to_the_gate(tiny_batch,
                                                      normalize_experts):
  # Scaling an expert's output changes the mixed embedding only when the
  # experts are not normalized: then the expert, not the gate, sets its share.
  feature_config, vocab, batch = tiny_batch(32)
  config = config_lib.TrainConfig(model="cdn", regularizer_batch="drawn",
                                  normalize_experts=normalize_experts)
  item = registry.build(config, feature_config, vocab, {"i1": 10}, 5
                        ).item_model
  before = item(batch).numpy()
  last = item.memorization_experts[0].layers[-1]
  for weight in last.weights:
    weight.assign(weight * 5.0)
  after = item(batch).numpy()
  if normalize_experts:
    np.testing.assert_allclose(after, before, atol=1e-5)
  else:
    assert np.abs(after - before).max() > 1e-2
