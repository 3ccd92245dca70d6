"""CdnTuner (TFX's Tuner with the CDN Trainer's inputs): a search on the
validation split only, whose best settings the Trainer takes; the search
space is the experiment harness's; --tune and --hyperparameters in the
compiled spec."""

import json
import os

import keras_tuner
import pytest
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts
from tfx.utils import json_utils
from tfx.utils import proto_utils

from cdnrec import cli
from cdnrec.components.tuner import component as tuner_component
from cdnrec.components.tuner import tuning
from cdnrec.core import example_io
from cdnrec.core.errors import ConfigError
from cdnrec.experiment import methods
from cdnrec.models import config as config_lib
from cdnrec.models import search_space


def _artifact(kind, uri):
  artifact = kind()
  artifact.uri = str(uri)
  return artifact


@pytest.fixture(scope="module")
def searched(tiny_artifacts, tmp_path_factory):
  """Two trials of up to two epochs on the tiny data, each stopped early on
  validation NDCG; (output folder, splits ranked)."""
  out = tmp_path_factory.mktemp("tuner")
  examples = _artifact(standard_artifacts.Examples,
                       tiny_artifacts["examples"].uri)
  example_io.mark_examples(examples, example_io.SPLITS)
  ranked = []
  load = tuning.queries_lib.load

  def recording_load(uri, split, *args, **kwargs):
    ranked.append(split)
    return load(uri, split, *args, **kwargs)
  tuning.queries_lib.load = recording_load
  best = _artifact(standard_artifacts.HyperParameters, out / "best")
  results = _artifact(standard_artifacts.TunerResults, out / "results")
  os.makedirs(best.uri)
  os.makedirs(results.uri)
  train = config_lib.TrainConfig.from_dict({
      "batch_size": 128, "serving_k": 20, "early_stopping_patience": 1,
      "early_stopping_metric": "ndcg"})
  tune = search_space.TuneConfig(trials=2, epochs=2, fixed=("dropout",))
  try:
    from tfx.dsl.components.base import base_executor
    executor = tuner_component.Executor(base_executor.BaseExecutor.Context(
        tmp_dir=str(out / "tmp"), unique_id="1"))
    executor.Do(
        {"examples": [examples],
         "item_catalog": [tiny_artifacts["item_catalog"]],
         "item_stats": [tiny_artifacts["item_stats"]],
         "rebalanced_examples": [tiny_artifacts["rebalanced_examples"]]},
        {"best_hyperparameters": [best], "tuner_results": [results]},
        {"tuner_fn": tuner_component.TUNER_FN,
         "train_args": proto_utils.proto_to_json(trainer_pb2.TrainArgs()),
         "eval_args": proto_utils.proto_to_json(trainer_pb2.EvalArgs()),
         "custom_config": json_utils.dumps({
             tuning.TRAIN_KEY: train.to_dict(),
             tuning.TUNE_KEY: tune.to_dict(), tuning.K_KEY: 20})})
  finally:
    tuning.queries_lib.load = load
  return out, ranked


def test_the_search_writes_the_best_settings_from_the_shared_space(searched):
  out, ranked = searched
  with open(out / "best" / "best_hyperparameters.txt") as f:
    best = json.load(f)
  with open(out / "results" / "tuner_results.json") as f:
    trials = json.load(f)
  assert len(trials) == 2
  assert best["values"] == {k: v for k, v in trials[0].items()
                            if k not in ("trial_id", "score")}
  space = search_space.axes("two_tower", with_width=True)
  settings = search_space.chosen_settings(best)
  assert "dropout" not in settings  # fixed with --set: not searched
  for name, value in settings.items():
    assert value in space[name]
  # Trials are scored on the validation split, and stopped early on it
  # (each trial ranks it once for its score and once for early stopping);
  # the test split is never read.
  assert ranked == ["eval"] * 4


def test_the_trainer_takes_the_tuners_settings(searched, trained, caplog):
  """run_fn merges fn_args.hyperparameters over custom_config."""
  from cdnrec.models import trainer
  out, _ = searched
  with open(out / "best" / "best_hyperparameters.txt") as f:
    best = json.load(f)
  fn_args = trainer.CdnFnArgs(
      train_files=trained.train_files, eval_files=trained.eval_files,
      serving_model_dir=str(out / "model" / "Format-Serving"),
      model_run_dir=str(out / "model_run"),
      custom_config={"epochs": 1, "batch_size": 128, "serving_k": 20},
      hyperparameters=best,
      item_catalog_uri=trained.item_catalog_uri,
      item_stats_uri=trained.item_stats_uri,
      rebalanced_examples_uri=trained.rebalanced_examples_uri)
  with caplog.at_level("INFO", logger="cdnrec.trainer"):
    trainer.run_fn(fn_args)
  with open(out / "model_run" / "training.json") as f:
    used = json.load(f)["config"]
  for name, value in search_space.chosen_settings(best).items():
    assert used[name] == value
  assert "hyperparameters from the Tuner" in caplog.text


def test_the_harness_searches_the_same_space():
  for model in ("cdn", "two_tower", "logq", "class_balance", "bdn"):
    assert methods.grid(model).axes == search_space.axes(model)
    tuner_space = search_space.axes(model, with_width=True)
    assert {k: v for k, v in tuner_space.items()
            if k not in search_space.WIDTH_AXIS} == methods.grid(model).axes


def test_layer_lists_survive_keras_tuners_choices():
  hp = tuning.hyperparameters("cdn", fixed=set())
  assert "256,128,64" in hp.space[[p.name for p in hp.space].index(
      "expert_layers")].values
  assert search_space.chosen_settings(
      {"values": {"expert_layers": "256,128,64", "gamma": 3}}) == {
          "expert_layers": [256, 128, 64], "gamma": 3}


def test_a_failing_trial_fails_the_search(tiny_artifacts, tmp_path):
  """KerasTuner would skip it; a setting that cannot train is a bug."""
  oracle = keras_tuner.oracles.RandomSearchOracle(
      objective=tuning.OBJECTIVE, max_trials=1,
      hyperparameters=tuning.hyperparameters("two_tower", set()))
  tuner = tuning.RetrievalTuner(
      oracle, None, tiny_artifacts["examples"].uri,
      {"model": "two_tower", "epochs": 0}, search_space.TuneConfig(), 20,
      directory=str(tmp_path), project_name="t")
  with pytest.raises(keras_tuner.errors.FatalError,
                     match="failed: epochs must be >= 1"):
    tuner.search()


def test_a_diverged_trial_scores_zero_and_the_search_goes_on(
    trained, tiny_artifacts, tmp_path, monkeypatch):
  from cdnrec.core import ranking
  from cdnrec.models import trainer

  def diverged(*args, **kwargs):
    raise ranking.NonFiniteEmbeddings("the item embeddings hold NaN")
  monkeypatch.setattr(tuning.ranking, "evaluate_embeddings", diverged)
  oracle = keras_tuner.oracles.RandomSearchOracle(
      objective=tuning.OBJECTIVE, max_trials=2, seed=0,
      hyperparameters=tuning.hyperparameters("two_tower", set()))
  data = trainer.training_inputs(trainer.CdnFnArgs(
      train_files=trained.train_files, eval_files=trained.eval_files,
      item_catalog_uri=trained.item_catalog_uri,
      item_stats_uri=trained.item_stats_uri))
  tuner = tuning.RetrievalTuner(
      oracle, data, tiny_artifacts["examples"].uri,
      {"model": "two_tower", "epochs": 1, "batch_size": 128},
      search_space.TuneConfig(), 20, directory=str(tmp_path),
      project_name="t")
  tuner.search()
  trials = oracle.get_best_trials(2)
  assert len(trials) == 2 and all(t.score == 0.0 for t in trials)


def _compile(tmp_path, *extra):
  output = str(tmp_path / "pipeline.json")
  assert cli.main(["compile", "--target", "vertex", "--output", output,
                   "--data-dir", "gs://bucket/data", *extra]) == 0
  with open(output) as f:
    return json.load(f)["pipelineSpec"]["root"]["dag"]["tasks"]


def test_tune_puts_the_tuner_before_the_trainer(tmp_path):
  tasks = _compile(tmp_path, "--tune", "--tune-trials", "7",
                   "--set", "dropout=0.2")
  assert "CdnTuner" in tasks
  hp = tasks["CdnTrainer"]["inputs"]["artifacts"]["hyperparameters"]
  assert hp["taskOutputArtifact"] == {"producerTask": "CdnTuner",
                                      "outputArtifactKey":
                                      "best_hyperparameters"}
  assert "hyperparameters" not in tasks["BaselineTrainer"]["inputs"][
      "artifacts"]
  custom = json.loads(tasks["CdnTuner"]["inputs"]["parameters"][
      "custom_config"]["runtimeValue"]["constantValue"]["stringValue"])
  assert custom["tune"]["trials"] == 7
  assert custom["tune"]["fixed"] == ["dropout"]


def test_hyperparameters_import_an_earlier_search(tmp_path):
  tasks = _compile(tmp_path, "--hyperparameters", "gs://bucket/hp/7")
  assert "CdnTuner" not in tasks
  hp = tasks["CdnTrainer"]["inputs"]["artifacts"]["hyperparameters"]
  assert hp["taskOutputArtifact"]["producerTask"] == (
      "hyperparameters_importer")


def test_tuning_settings_are_checked(tmp_path, capsys):
  assert cli.main(["compile", "--output", str(tmp_path / "p.json"),
                   "--tune", "--hyperparameters", "gs://b/hp"]) == 2
  assert "tune or reuse hyperparameters, not both" in capsys.readouterr().err
  assert cli.main(["run", "--output", str(tmp_path / "r"),
                   "--hyperparameters", str(tmp_path)]) == 2
  assert "no best_hyperparameters.txt there" in capsys.readouterr().err
  with pytest.raises(ConfigError, match="tune trials must be >= 1"):
    search_space.TuneConfig(trials=0).validate()


def test_imported_hyperparameters_are_checked(tmp_path):
  from cdnrec.cli import flags
  folder = tmp_path / "hp"
  folder.mkdir()
  (folder / "best_hyperparameters.txt").write_text(json.dumps(
      {"space": [], "values": {"dropout": 0.0, "learning_rate": 0.001}}))
  assert flags.hyperparameters_dir(str(folder)) == str(folder)
  assert flags.hyperparameters_dir(
      str(folder / "best_hyperparameters.txt")) == str(folder)
  with pytest.raises(ConfigError, match=r"sets \['dropout'\], which you "
                     "also gave"):
    flags.hyperparameters_dir(str(folder), {"dropout": 0.2})
  (folder / "notes.txt").write_text("x")
  with pytest.raises(ConfigError, match="must hold best_hyperparameters.txt "
                     "alone"):
    flags.hyperparameters_dir(str(folder))


def test_a_flag_given_is_not_searched(tmp_path):
  import argparse
  from cdnrec.cli import flags
  parser = argparse.ArgumentParser()
  flags.add_data(parser, default=flags.SYNTHETIC)
  flags.add_training(parser)
  flags.add_tuning(parser)
  flags.add_blessing(parser)
  flags.add_infra_validation(parser)
  args = parser.parse_args(["--tune", "--learning-rate", "0.01",
                            "--set", "temperature=0.05"])
  config = flags.pipeline_config(args, str(tmp_path))
  assert config.tune.fixed == ("learning_rate", "temperature")
  assert config.train.learning_rate == 0.01
