"""Typed configs checked at the edge: a bad setting fails before any work,
with one line naming it; the pipeline gets each setting from one place."""

import json
import os
import subprocess
import sys

import pytest

from cdnrec import cli
from cdnrec.core import blessing
from cdnrec.core.errors import ConfigError
from cdnrec.models import config as config_lib
from cdnrec.pipeline import configs


def test_unknown_training_setting_names_itself_and_the_known_ones():
  with pytest.raises(ConfigError) as e:
    config_lib.TrainConfig.from_dict({"gama": 5})
  message = str(e.value)
  assert message.startswith("unknown training setting gama; known: ")
  assert "gamma" in message and "\n" not in message


@pytest.mark.parametrize("values,message", [
    ({"tower_layers": "abc"}, "tower_layers must be a list of integers"),
    ({"epochs": "5"}, "epochs must be an integer"),
    ({"epochs": 2.5}, "epochs must be an integer"),
    ({"normalize": 1}, "normalize must be true or false"),
    ({"gamma": "high"}, "gamma must be a number"),
    ({"model": 3}, "model must be a string"),
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"model": "three_tower"}, "model must be one of"),
])
def test_wrong_types_and_ranges_are_refused(values, message):
  with pytest.raises(ConfigError, match=message):
    config_lib.TrainConfig.from_dict(values)


def test_values_take_their_fields_types():
  config = config_lib.TrainConfig.from_dict(
      {"gamma": 5, "tower_layers": [32, 16], "scann_num_leaves": None})
  assert config.gamma == 5.0 and isinstance(config.gamma, float)
  assert config.tower_layers == (32, 16)
  # to_dict round-trips: the Trainer's custom_config is this dict.
  assert config_lib.TrainConfig.from_dict(config.to_dict()) == config


def _pipeline_config(**changes):
  fields = {"data": configs.DataConfig(data_dir="/data"),
            "train": config_lib.TrainConfig(model="cdn", serving_k=30),
            "eval_k": 10}
  fields.update(changes)
  return configs.PipelineConfig(**fields)


@pytest.mark.parametrize("changes,message", [
    ({"data": configs.DataConfig(data_dir="/d", data_format="csv")},
     "data format must be one of"),
    ({"data": configs.DataConfig(data_dir="")}, "needs a data folder"),
    ({"data": configs.DataConfig(data_dir="/d", head_fraction=1.5)},
     "head_fraction must be in"),
    ({"data": configs.DataConfig(data_dir="/d", features={"items": ["a"]})},
     "features are selected per side"),
    ({"eval_k": 0}, "eval_k must be >= 1"),
    ({"keep_versions": 0}, "keep_versions must be >= 1"),
    ({"thresholds": blessing.Thresholds(min_tail_hr=2.0)},
     "min_tail_hr must be in"),
])
def test_pipeline_config_refuses_bad_settings(changes, message):
  _pipeline_config().validate()
  with pytest.raises(ConfigError, match=message):
    _pipeline_config(**changes).validate()


def test_head_fraction_has_one_owner_per_format():
  assert configs.DataConfig("/d").resolved_head_fraction == 0.2
  assert configs.DataConfig(
      "/d", data_format="bookcrossing").resolved_head_fraction == 0.001
  assert configs.DataConfig("/d", head_fraction=0.3).resolved_head_fraction \
      == 0.3


def test_baseline_policy():
  cdn = config_lib.TrainConfig(model="cdn", epochs=7, seed=3)
  two_tower = config_lib.TrainConfig(model="two_tower")
  baseline = configs.baseline_config(configs.AUTO_BASELINE, cdn)
  assert (baseline.model, baseline.epochs, baseline.seed) == \
      ("two_tower", 7, 3)
  assert configs.baseline_config(configs.AUTO_BASELINE, two_tower) is None
  assert configs.baseline_config(configs.NO_BASELINE, cdn) is None
  assert configs.baseline_config("logq", cdn).model == "logq"
  with pytest.raises(ConfigError, match="model must be one of"):
    configs.baseline_config("nope", cdn)


def test_the_pipeline_gets_eval_k_and_serving_k_apart(tmp_path):
  from cdnrec.pipeline import pipeline as pipeline_lib
  config = _pipeline_config(
      data=configs.DataConfig(data_dir=str(tmp_path)),
      baseline=configs.baseline_config(
          configs.AUTO_BASELINE, config_lib.TrainConfig(model="cdn")))
  built = pipeline_lib.create_pipeline(
      "p", str(tmp_path / "root"), config, str(tmp_path / "serving"))
  by_id = {c.id: c for c in built.components}
  assert by_id["RetrievalEvaluator"].exec_properties["k"] == 10
  custom = json.loads(by_id["CdnTrainer"].exec_properties["custom_config"])
  # Hyperparameters only: the artifacts reach run_fn as CdnFnArgs fields.
  assert custom == config.train.to_dict()
  assert custom["serving_k"] == 30
  baseline = json.loads(
      by_id["BaselineTrainer"].exec_properties["custom_config"])
  assert baseline["model"] == "two_tower"


def test_create_pipeline_validates_its_config(tmp_path):
  from cdnrec.pipeline import pipeline as pipeline_lib
  with pytest.raises(ConfigError, match="eval_k"):
    pipeline_lib.create_pipeline("p", str(tmp_path), _pipeline_config(
        eval_k=-1), str(tmp_path / "serving"))


@pytest.mark.parametrize("flags,message", [
    (["--set", "gama=5"], "error: unknown training setting gama; known: "),
    (["--set", "gamma"], "error: --set 'gamma' must look like NAME=VALUE"),
    (["--epochs", "0"], "error: epochs must be >= 1, got 0"),
    (["--head-fraction", "1.5"], "error: head_fraction must be in (0, 1)"),
    (["--baseline", "nope"], "error: model must be one of"),
    (["--interactions", "10"], "error: n_interactions=10 is too few"),
])
def test_run_refuses_bad_settings_before_any_work(tmp_path, capsys, flags,
                                                  message):
  output = tmp_path / "out"
  assert cli.main(["run", "--output", str(output), *flags]) == 2
  err = capsys.readouterr().err
  assert err.startswith(message), err
  assert err.count("\n") == 1  # one line, no traceback
  assert not output.exists()  # no data generated, nothing written


def test_compile_shares_runs_defaults(tmp_path):
  run = cli._parser().parse_args(["run"])  # pylint: disable=protected-access
  compile_ = cli._parser().parse_args(  # pylint: disable=protected-access
      ["compile", "--output", str(tmp_path / "p.json")])
  for name in ("model", "epochs", "batch_size", "learning_rate", "serving_k",
               "eval_k", "baseline", "max_regression", "min_tail_hr",
               "min_tail_ndcg", "min_index_recall", "keep_versions", "seed"):
    assert getattr(run, name) == getattr(compile_, name), name
  assert run.epochs == config_lib.TrainConfig().epochs


def test_settings_are_checked_without_loading_tensorflow():
  # What makes `cdnrec run --set gama=5` answer at once: the edge checks
  # import neither TensorFlow nor TFX.
  program = ("import sys\nfrom cdnrec import cli\n"
             "code = cli.main(['run', '--set', 'gama=5', '--output', "
             f"{os.devnull!r}])\n"
             "print(code, 'tensorflow' in sys.modules, 'tfx' in sys.modules)")
  result = subprocess.run([sys.executable, "-c", program],
                          capture_output=True, text=True, check=True)
  assert result.stdout.split() == ["2", "False", "False"]
  assert result.stderr.startswith("error: unknown training setting gama")
