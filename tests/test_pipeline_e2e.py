"""The whole pipeline through the real CLI, on a tiny generated dataset."""

import os
import re

import cli_runner
import pytest

from cdnrec.pipeline import configs

# Three whole pipeline runs through the CLI.
pytestmark = pytest.mark.slow

COMPONENTS = ["LeaveOneOutExampleGen", "StatisticsGen", "SchemaGen",
              "ExampleValidator", "AnomaliesCheck", "ItemStatsGen",
              "last_blessed_model", "CdnTrainer", "BaselineTrainer",
              "RetrievalEvaluator", "VersionedPusher"]
TINY = ["--users", "200", "--items", "120", "--interactions", "1500",
        "--imbalance-factor", "60", "--batch-size", "128"]
# One epoch on tiny data: the bars the first run must clear are lenient;
# what is tested is that they are applied.
LENIENT = ["--max-regression", "0.5", "--min-tail-hr", "0",
           "--min-tail-ndcg", "0"]


def _cdnrec(*args, expect=0, output="stdout"):
  code, stdout, stderr = cli_runner.run(*args)
  assert code == expect, stdout[-3000:] + stderr[-5000:]
  return stdout if output == "stdout" else stdout + stderr


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("e2e"))
  stdout = _cdnrec("run", "--output", out, "--epochs", "1", *TINY, *LENIENT)
  return out, stdout


def test_every_component_runs_and_a_model_is_pushed(first_run):
  out, stdout = first_run
  for name in COMPONENTS:
    assert f"> {name} started" in stdout
    assert re.search(rf"< {name} finished in [0-9.]+s", stdout)
  version, pushed = re.search(r"model pushed as version (\d+) to (\S+)",
                              stdout).groups()
  serving = os.path.join(out, "serving", configs.PIPELINE_NAME)
  assert pushed == os.path.join(serving, version)
  assert os.path.exists(os.path.join(pushed, "saved_model.pb"))
  twin = os.path.join(out, "serving", f"{configs.PIPELINE_NAME}_brute_force",
                      os.path.basename(pushed), "saved_model.pb")
  assert os.path.exists(twin)
  assert os.path.exists(os.path.join(out, "metadata.sqlite"))
  # The first CDN model is judged against the two-tower trained beside it.
  assert "model BLESSED against the baseline trained in this run" in stdout
  assert re.search(r"index recall: [0-9.]+ vs bar 0\.9500 \(ok\)", stdout)
  assert re.search(r"loss: [0-9.]+", stdout)  # training progress is shown
  for name in ("overall", "head", "tail"):
    assert re.search(rf"{name}\s+n=\d+\s+HR@50=\s*[0-9.]+\s+NDCG@50=", stdout)


def test_sample_query_is_answered_by_the_pushed_model(first_run):
  _, stdout = first_run
  answer = stdout[stdout.index("sample query"):]
  ranked = re.findall(r"^\s+(\d+)\. (i\d+)\s+(-?[0-9.]+)$", answer, re.M)
  assert [int(r[0]) for r in ranked] == list(range(1, 11))
  scores = [float(r[2]) for r in ranked]
  assert scores == sorted(scores, reverse=True)


def test_second_run_reuses_cached_components(first_run):
  out, stdout = first_run
  again = _cdnrec("run", "--output", out, "--epochs", "1", *TINY, *LENIENT)
  assert "using generated data" in again
  # Same inputs and settings: TFX serves the data components and the
  # Trainer from its cache; the evaluator now judges that same model
  # against the last blessed one (itself), and the pusher sees it is
  # already pushed: no new version.
  first = re.search(r"model pushed as version \d+ to (\S+)", stdout).group(1)
  assert re.search(r"model pushed as version \d+ to (\S+)",
                   again).group(1) == first
  assert "already pushed as version" in again


def test_a_model_below_the_bar_is_not_pushed(first_run):
  out, stdout = first_run
  serving = os.path.join(out, "serving", configs.PIPELINE_NAME)
  before = sorted(os.listdir(serving))
  # A new model (2 epochs, the Trainer watching validation NDCG) must now
  # beat the model last blessed and an impossible tail bar.
  refused = _cdnrec("run", "--output", out, "--epochs", "2", *TINY,
                    "--set", "early_stopping_patience=2",
                    "--set", "early_stopping_metric=ndcg",
                    "--min-tail-hr", "1.0", expect=1, output="all")
  assert re.search(r"early stopping: kept epoch [12] of 2 \(validation "
                   r"NDCG@50 [0-9.]+\)", refused)
  assert "model NOT BLESSED against the model last blessed" in refused
  assert re.search(r"tail hr: [0-9.]+ vs bar 1\.0000 \(FAILED\)", refused)
  assert "nothing pushed: the model is not blessed" in refused
  assert sorted(os.listdir(serving)) == before
