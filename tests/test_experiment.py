"""`cdnrec experiment` end to end on tiny generated data: results.json has
the promised shape and the figures are written."""

import json
import os

import cli_runner
import pytest

from cdnrec.experiment import report


@pytest.fixture(scope="module")
def experiment_out(tiny_data_dir, tmp_path_factory):
  out = str(tmp_path_factory.mktemp("experiment"))
  code, stdout, stderr = cli_runner.run(
      "experiment", "--data", "recbole", "--data-dir", tiny_data_dir,
      "--methods", "two_tower,cdn,ease,most_popular", "--seeds", "0,1",
      "--epochs", "2",
      "--no-tune", "--set", "batch_size=128", "--gammas", "1.5,5",
      "--out", out)
  assert code == 0, stdout[-3000:] + stderr[-5000:]
  return out, stdout


@pytest.mark.slow
def test_results_json_shape(experiment_out):
  out, _ = experiment_out
  with open(os.path.join(out, "results.json")) as f:
    results = json.load(f)
  for method in ("two_tower", "cdn"):
    for name in ("overall", "head", "tail"):
      for metric in ("hr@50", "ndcg@50"):
        entry = results[method][name][metric]
        assert len(entry["seeds"]) == 2
        assert entry["mean"] == pytest.approx(sum(entry["seeds"]) / 2)
        assert 0.0 <= entry["mean"] <= 100.0
    assert results[method]["train_seconds_per_epoch"]["mean"] > 0
    assert results[method]["hyperparameters"]["epochs"] == 2
  from cdnrec.experiment import baselines
  for method in ("ease", "most_popular"):
    # Deterministic: one fit, the same figure for every seed.
    entry = results[method]["overall"]["hr@50"]
    assert entry["seeds"] == [entry["mean"]] * 2 and entry["sem"] == 0
    assert results[method]["test_cases"] == results["cdn"]["test_cases"]
  trials = results["ease"]["tuning"]["trials"]
  assert [t["settings"]["l2"] for t in trials] == list(
      baselines.EASE_LAMBDAS)
  best = max(trials, key=lambda t: t["validation_ndcg"])
  assert results["ease"]["hyperparameters"] == {"model": "ease",
                                                "l2": best["settings"]["l2"]}
  counts = results["cdn"]["test_cases"]
  assert counts["head"] + counts["tail"] == counts["overall"] > 0
  gates = results["_gates"]
  for name in ("head", "tail"):
    assert gates[name]["memorization"] + gates[name]["generalization"] == \
        pytest.approx(1.0, abs=1e-5)
  # γ 5 is CDN's default: the sweep reuses the runs above from the cache.
  assert results["_gamma"]["gammas"] == [1.5, 5.0]
  for name in ("overall", "head", "tail"):
    assert results["_gamma"]["ndcg"][name][1] == pytest.approx(
        results["cdn"][name]["ndcg@50"]["mean"])


@pytest.mark.slow
def test_figures_and_table(experiment_out):
  out, stdout = experiment_out
  for name in ("gates.png", "gamma.png"):
    with open(os.path.join(out, name), "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert "cdn vs two_tower" in stdout
  assert "HR@50 overall" in stdout
  assert "\nease " in stdout and "\nmost_popular " in stdout


def test_mean_and_standard_error():
  # Seeds 1, 2, 3: mean 2, sample std 1, sem 1/sqrt(3).
  m = report.mean_sem([1.0, 2.0, 3.0])
  assert m["mean"] == 2.0
  assert m["sem"] == pytest.approx(3 ** -0.5)


@pytest.mark.slow
def test_frontier_sweeps_knobs_and_rescores_without_retraining(
    tiny_data_dir, tmp_path):
  out = str(tmp_path / "frontier")
  code, stdout, stderr = cli_runner.run(
      "experiment", "--data", "recbole", "--data-dir", tiny_data_dir,
      "--methods", "two_tower,cdn,most_popular", "--seeds", "0,1",
      "--epochs", "1", "--set", "batch_size=128", "--frontier",
      "--sweep", "two_tower=0,1", "--sweep", "cdn=1.5,5",
      "--posthoc", "two_tower,cdn", "--posthoc-taus", "0,1", "--out", out)
  assert code == 0, stdout[-3000:] + stderr[-5000:]
  with open(os.path.join(out, "results.json")) as f:
    results = json.load(f)
  curves = results["_frontier"]["curves"]
  assert sorted(curves) == ["cdn", "cdn+posthoc", "two_tower",
                            "two_tower+posthoc"]
  assert [p["value"] for p in curves["cdn"]] == [1.5, 5.0]
  assert [p["value"] for p in curves["two_tower+posthoc"]] == [0.0, 1.0]
  # τ = 0 is the model as trained: the default point's own figures (the
  # post-hoc curve re-scores those runs; 4 + 4 trainings, 1 baseline fit).
  assert curves["two_tower+posthoc"][0]["test"] == curves["two_tower"][1]["test"]
  assert curves["cdn+posthoc"][0]["test"] == curves["cdn"][1]["test"]
  assert len(os.listdir(os.path.join(out, "runs"))) == 9
  for point in curves["cdn"]:
    assert len(point["test"]["tail"]["hr@50"]["seeds"]) == 2
    assert point["validation"]["overall"]["ndcg@50"]["mean"] >= 0
  against = results["_frontier"]["cdn_against"]
  assert sorted(against) == ["cdn", "cdn+posthoc"]
  for subject in against:
    assert sorted(against[subject]) == ["two_tower", "two_tower+posthoc"]
  assert "cdn+posthoc at 0 vs two_tower+posthoc" in stdout
  assert "most_popular" in results
  with open(os.path.join(out, "frontier.png"), "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert "Head/tail frontier" in stdout and "two_tower+posthoc" in stdout


def test_early_stopped_runs_report_their_epochs():
  from cdnrec.experiment import run as run_lib
  metric = {"count": 10, "hr": 0.5, "ndcg": 0.2}
  metrics = {"test": {name: metric for name in report.SLICES}}
  stopped = [run_lib.RunResult({}, metrics, [1.0] * n, kept_epoch=kept)
             for n, kept in ((12, 7), (9, 4))]
  out = report.aggregate(stopped, 50)
  assert out["early_stopping"] == {"epochs_trained": [12, 9],
                                   "kept_epoch": [7, 4]}
  fixed = [run_lib.RunResult({}, metrics, [1.0] * 5)]
  assert "early_stopping" not in report.aggregate(fixed, 50)


def test_the_baselines_are_in_every_default_table():
  from cdnrec.experiment.config import ExperimentConfig
  assert {"ease", "most_popular"} <= set(ExperimentConfig("d", "o").methods)


def test_ease_too_large_is_refused_before_any_training(
    tiny_data_dir, tmp_path, monkeypatch):
  from cdnrec.core.errors import ConfigError
  from cdnrec.experiment import baselines
  from cdnrec.experiment import experiment
  from cdnrec.experiment.config import ExperimentConfig
  monkeypatch.setattr(baselines, "MAX_EASE_BYTES", 1000)
  config = ExperimentConfig(tiny_data_dir, str(tmp_path),
                            methods=("two_tower", "ease"), seeds=(0,),
                            epochs=1, tune=False)
  with pytest.raises(ConfigError, match=r"ease: the train split has \d+ "
                     r"users and \d+ items"):
    experiment.run(config)
  assert os.listdir(tmp_path / "runs") == []  # nothing was trained
