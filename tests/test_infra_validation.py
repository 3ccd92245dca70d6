"""InfraValidator in the pipeline (--infra-validator docker|kubernetes):
present in the compiled Vertex spec between the Evaluator and the Pusher,
with the ScaNN TF Serving image; the Pusher refuses a model it did not
bless; a local run without a Docker engine fails before any work; and the
requests TFX's InfraValidator builds from our examples, sent by its own
TF Serving client, are answered by `cdnrec serve`'s gRPC API. (No Docker
engine here: the component itself is not run.)"""

import json
import os
import threading
import time

import pytest
from tfx import v1 as tfx
from tfx.components.infra_validator import request_builder
from tfx.components.infra_validator.model_server_clients import (
    tensorflow_serving_client)
from tfx.types import standard_artifacts

from cdnrec import cli
from cdnrec.components.pusher import executor as pusher_executor
from cdnrec.components.pusher import versions
from cdnrec.core import example_io
from cdnrec.core.errors import ConfigError
from cdnrec.pipeline import configs
from cdnrec.serving import grpc_server
from cdnrec.serving import holder as holder_lib
from cdnrec.serving import server as server_lib


def _compile(tmp_path, *extra):
  output = str(tmp_path / "pipeline.json")
  assert cli.main(["compile", "--target", "vertex", "--output", output,
                   "--image", "example.com/cdnrec:1",
                   "--data-dir", "gs://bucket/data", *extra]) == 0
  with open(output) as f:
    return json.load(f)["pipelineSpec"]


def test_the_compiled_spec_validates_before_pushing(tmp_path):
  spec = _compile(tmp_path, "--infra-validator", "kubernetes")
  tasks = spec["root"]["dag"]["tasks"]
  validator = tasks["InfraValidator"]
  assert "RetrievalEvaluator" in validator["dependentTasks"]
  assert validator["inputs"]["artifacts"]["model"]["taskOutputArtifact"][
      "producerTask"] == "CdnTrainer"
  assert "examples" in validator["inputs"]["artifacts"]
  parameters = {name: json.loads(value["runtimeValue"]["constantValue"][
      "stringValue"]) for name, value in validator["inputs"][
          "parameters"].items()}
  serving = parameters["serving_spec"]
  assert serving["tensorflow_serving"] == {"image_name":
                                           "google/tf-serving-scann",
                                           "tags": ["2.16.1"]}
  assert "kubernetes" in serving and serving["model_name"] == "cdnrec"
  request = parameters["request_spec"]
  assert request["tensorflow_serving"]["signature_names"] == [
      "serving_default"]
  assert request["split_name"] == "eval"
  executors = spec["deploymentSpec"]["executors"]
  assert executors["InfraValidator_executor"]["container"]["image"] == (
      "example.com/cdnrec:1")
  pusher = tasks["VersionedPusher"]["inputs"]["artifacts"]
  assert pusher["infra_blessing"]["taskOutputArtifact"] == {
      "outputArtifactKey": "blessing", "producerTask": "InfraValidator"}


def test_a_compiled_pipeline_cannot_use_docker(tmp_path, capsys):
  assert cli.main(["compile", "--output", str(tmp_path / "p.json"),
                   "--infra-validator", "docker"]) == 2
  assert "steps of a compiled pipeline run in pods with no Docker engine" in (
      capsys.readouterr().err)
  assert not (tmp_path / "p.json").exists()


def test_the_pod_identity_is_filled_in_a_cluster_only(tmp_path):
  from cdnrec.components.infra_validator import executor
  namespace = tmp_path / "namespace"
  namespace.write_text("kubeflow\n")
  outside = {}
  executor.fill_pod_identity(outside, str(namespace))
  assert outside == {}
  inside = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
  executor.fill_pod_identity(inside, str(namespace))
  assert inside["KFP_NAMESPACE"] == "kubeflow" and inside["KFP_POD_NAME"]
  given = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KFP_POD_NAME": "p",
           "KFP_NAMESPACE": "ns"}
  executor.fill_pod_identity(given, str(namespace))
  assert given["KFP_POD_NAME"] == "p" and given["KFP_NAMESPACE"] == "ns"


def test_without_the_flag_there_is_no_validator(tmp_path):
  tasks = _compile(tmp_path)["root"]["dag"]["tasks"]
  assert "InfraValidator" not in tasks
  assert "infra_blessing" not in tasks["VersionedPusher"]["inputs"][
      "artifacts"]


@pytest.mark.parametrize("settings, message", [
    (dict(platform="podman"), r"must be one of \['none', 'docker', "
     r"'kubernetes'\], got 'podman'"),
    (dict(platform="docker", image="tf-serving-scann"), r"NAME:TAG"),
    (dict(platform="docker", num_tries=0), r"num_tries must be >= 1"),
])
def test_settings_are_checked(settings, message):
  with pytest.raises(ConfigError, match=message):
    configs.InfraValidationConfig(**settings).validate()


def test_a_local_run_without_docker_fails_before_any_work(tmp_path, capsys):
  output = tmp_path / "run"
  assert cli.main(["run", "--infra-validator", "docker",
                   "--output", str(output)]) == 2
  assert "--infra-validator docker: no Docker engine answers here" in (
      capsys.readouterr().err)
  assert not output.exists()


def _artifact(kind, uri, blessed=None):
  artifact = kind()
  artifact.uri = str(uri)
  if blessed is not None:
    artifact.set_int_custom_property("blessed", blessed)
  return artifact


@pytest.mark.parametrize("infra_blessed, pushed", [(0, False), (1, True)])
def test_the_pusher_pushes_only_what_tf_serving_served(tmp_path,
                                                       infra_blessed, pushed):
  model = tmp_path / "model"
  for variant in ("Format-Serving", "Format-Serving-BruteForce"):
    os.makedirs(model / variant / "variables")
    (model / variant / "saved_model.pb").write_text("v")
  out = tmp_path / "pushed"
  pushed_model = _artifact(standard_artifacts.PushedModel, out)
  pusher_executor.Executor().Do(
      {"model": [_artifact(standard_artifacts.Model, model)],
       "model_blessing": [_artifact(standard_artifacts.ModelBlessing,
                                    tmp_path / "b", blessed=1)],
       "infra_blessing": [_artifact(standard_artifacts.InfraBlessing,
                                    tmp_path / "ib", blessed=infra_blessed)]},
      {"pushed_model": [pushed_model]},
      {"scann_directory": str(tmp_path / "serving" / "cdnrec"),
       "brute_force_directory": str(tmp_path / "serving" / "bf"),
       "keep_versions": 2})
  record = json.loads((out / "push.json").read_text())
  assert record["pushed"] is pushed
  assert pushed_model.get_int_custom_property("pushed") == int(pushed)
  if not pushed:
    assert record["reason"].startswith("InfraValidator did not bless the "
                                       "model: TF Serving did not start")
    assert not (tmp_path / "serving" / "cdnrec").exists()


def test_infra_validators_own_requests_and_client_get_answers(
    trained, tiny_artifacts, tmp_path):
  """What InfraValidator does once TF Serving runs, against cdnrec serve:
  its request builder reads eval examples into serving_default requests,
  its client waits for AVAILABLE and sends them."""
  base = str(tmp_path / "cdnrec")
  versions.publish(trained.serving_model_dir, base, 1)
  model = standard_artifacts.Model()
  model.uri = os.path.dirname(trained.serving_model_dir)  # Format-Serving
  examples = standard_artifacts.Examples()  # as ExampleGen marks its output
  examples.uri = tiny_artifacts["examples"].uri
  example_io.mark_examples(examples, example_io.SPLITS)
  requests = request_builder.build_requests(
      model_name="cdnrec", model=model, examples=examples,
      request_spec=tfx.proto.RequestSpec(
          tensorflow_serving=tfx.proto.TensorFlowServingRequestSpec(
              signature_names=["serving_default"]),
          split_name="eval", num_examples=8))
  assert len(requests) == 8
  holder = holder_lib.ModelHolder(base)
  rest = server_lib.RetrievalServer(holder, "cdnrec", "127.0.0.1", 0,
                                    poll_seconds=0)
  threading.Thread(target=rest.serve_forever, daemon=True).start()
  server, port = grpc_server.start(holder, "cdnrec", "127.0.0.1", 0,
                                   metrics=rest.metrics)
  try:
    client = tensorflow_serving_client.TensorFlowServingClient(
        f"127.0.0.1:{port}", "cdnrec")
    client.WaitUntilModelLoaded(deadline=time.time() + 60,
                                polling_interval_sec=1)
    client.SendRequests(requests)  # raises on any failed request
  finally:
    server.stop(None)
    rest.shutdown()
    rest.server_close()
  assert rest.metrics.count(":cdnrec:serving:requests", entrypoint="GRPC",
                            API="Predict", signature_name="serving_default",
                            status="OK") == 8
