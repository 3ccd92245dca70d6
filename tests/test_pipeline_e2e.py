"""The whole pipeline through the real CLI, on a tiny generated dataset."""

import os
import re
import subprocess
import sys

import pytest

from pipeline import configs

COMPONENTS = ["LeaveOneOutExampleGen", "StatisticsGen", "SchemaGen",
              "ExampleValidator", "AnomaliesCheck", "ItemStatsGen", "CdnTrainer",
              "RetrievalEvaluator", "Pusher"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cdnrec(*args):
  result = subprocess.run(
      [sys.executable, "-m", "cdnrec.cli", *args], cwd=ROOT,
      capture_output=True, text=True, check=False)
  assert result.returncode == 0, (result.stdout[-3000:] +
                                  result.stderr[-5000:])
  return result.stdout


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("e2e"))
  stdout = _cdnrec("run", "--output", out, "--users", "200", "--items", "120",
                   "--interactions", "1500", "--imbalance-factor", "60",
                   "--epochs", "1", "--batch-size", "128")
  return out, stdout


def test_every_component_runs_and_a_model_is_pushed(first_run):
  out, stdout = first_run
  for name in COMPONENTS:
    assert f"> {name} started" in stdout
    assert re.search(rf"< {name} finished in [0-9.]+s", stdout)
  pushed = re.search(r"model pushed to (\S+)", stdout).group(1)
  serving = os.path.join(out, "serving", configs.PIPELINE_NAME)
  assert os.path.dirname(pushed) == serving
  assert os.path.basename(pushed).isdigit()
  assert os.path.exists(os.path.join(pushed, "saved_model.pb"))
  assert os.path.exists(os.path.join(out, "metadata.sqlite"))
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
  again = _cdnrec("run", "--output", out, "--users", "200", "--items", "120",
                  "--interactions", "1500", "--imbalance-factor", "60",
                  "--epochs", "1", "--batch-size", "128")
  assert "using generated data" in again
  # Same inputs and settings: TFX serves every component from its cache,
  # so the same model version is still the one pushed.
  first = re.search(r"model pushed to (\S+)", stdout).group(1)
  assert re.search(r"model pushed to (\S+)", again).group(1) == first
