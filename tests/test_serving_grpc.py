"""`cdnrec serve --grpc-port`: TF Serving's gRPC API with the official
stubs, answering as the REST server does for the same inputs, with the
same checks (gRPC codes for 4xx reasons), version switching, batching,
metrics, and `cdnrec query --server grpc://`."""

import base64
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request

import grpc
import cli_runner
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from prometheus_client.parser import text_string_to_metric_families
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import predict_pb2

from cdnrec.components.pusher import versions
from cdnrec.core.errors import ConfigError
from cdnrec.serving import batching
from cdnrec.serving import client
from cdnrec.serving import grpc_client
from cdnrec.serving import grpc_server
from cdnrec.serving import holder as holder_lib
from cdnrec.serving import metrics as metrics_lib
from cdnrec.serving import server as server_lib

NAME = "cdnrec"


def _start(base, batching_config=None):
  """(REST url, grpc:// address, REST server, gRPC server, holder), the
  two servers sharing holder, batcher and metrics as `cdnrec serve`."""
  holder = holder_lib.ModelHolder(base)
  rest = server_lib.RetrievalServer(holder, NAME, "127.0.0.1", 0,
                                    max_batch=16, poll_seconds=0,
                                    batching=batching_config)
  threading.Thread(target=rest.serve_forever, daemon=True).start()
  grpc_srv, port = grpc_server.start(holder, NAME, "127.0.0.1", 0,
                                     run=rest.run_signature,
                                     metrics=rest.metrics, max_batch=16)
  url = "http://{}:{}".format(*rest.server_address)
  return url, f"grpc://127.0.0.1:{port}", rest, grpc_srv, holder


def _stop(rest, grpc_srv):
  grpc_srv.stop(None)
  rest.shutdown()
  rest.server_close()


@pytest.fixture(scope="module")
def model_base(trained, tmp_path_factory):
  base = str(tmp_path_factory.mktemp("grpc_serving") / NAME)
  versions.publish(trained.serving_model_dir, base, 1)
  return base


@pytest.fixture(scope="module")
def both(model_base):
  url, target, rest, grpc_srv, holder = _start(model_base)
  with grpc_client.Client(target) as connection:
    yield url, connection, rest, holder
  _stop(rest, grpc_srv)


def _predict(connection, inputs, signature="serve_features", name=NAME,
             version=None, output_filter=()):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = name
  request.model_spec.signature_name = signature
  if version is not None:
    request.model_spec.version.value = version
  request.output_filter.extend(output_filter)
  for key, value in inputs.items():
    request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
  return connection._call(connection._predictions.Predict, request)


def test_predict_equals_rest_for_the_same_inputs(both, test_users):
  url, connection, _, _ = both
  users, records = test_users
  want = client.predict(url, NAME, users)
  got = connection.predict(NAME, users)
  assert [g["item_ids"] for g in got] == [w["item_ids"] for w in want]
  for g, w in zip(got, want):
    np.testing.assert_allclose(g["scores"], w["scores"], rtol=1e-6)
  rest_examples = json.loads(urllib.request.urlopen(urllib.request.Request(
      f"{url}/v1/models/{NAME}:predict", data=json.dumps({"instances": [
          {"b64": base64.b64encode(r).decode()} for r in records]}).encode(),
      method="POST")).read())["predictions"]
  grpc_examples = connection.predict_arrays(
      NAME, {"examples": np.array(records, dtype=object)}, "serving_default")
  assert grpc_examples["item_ids"].astype(str).tolist() == [
      r["item_ids"] for r in rest_examples]
  np.testing.assert_allclose(grpc_examples["scores"],
                             [r["scores"] for r in rest_examples], rtol=1e-6)


def test_status_and_metadata_equal_rest(both):
  url, connection, _, _ = both
  status = json_format.MessageToDict(
      connection.status(NAME), preserving_proto_field_name=True,
      including_default_value_fields=True)
  assert status == client.status(url, NAME)
  assert connection.status(NAME).model_version_status[0].state == (
      get_model_status_pb2.ModelVersionStatus.AVAILABLE)
  signatures = json_format.MessageToDict(connection.signature_defs(NAME),
                                         preserving_proto_field_name=True)
  assert signatures == client.metadata(url, NAME)["metadata"][
      "signature_def"]
  assert connection.input_types(NAME)["user_id"] == "DT_STRING"


def test_output_filter_and_response_model_spec(both, test_users):
  _, connection, _, _ = both
  users, _ = test_users
  response = _predict(connection, {"user_id": np.array(
      [users[0]["user_id"].encode()], dtype=object)},
                      output_filter=["item_ids"])
  assert set(response.outputs) == {"item_ids"}
  assert response.model_spec.name == NAME
  assert response.model_spec.version.value == 1
  assert response.model_spec.signature_name == "serve_features"


@pytest.mark.parametrize("call, code, message", [
    (dict(signature="nope"), "INVALID_ARGUMENT",
     r"unknown signature_name 'nope'"),
    (dict(inputs={"user_id": np.array([1.5], np.float32)}),
     "INVALID_ARGUMENT", r"input 'user_id': expected DT_STRING, got DT_FLOAT"),
    (dict(inputs={"nope": np.array([b"x"], dtype=object)}),
     "INVALID_ARGUMENT", r"unknown inputs \['nope'\]"),
    (dict(inputs={"user_id": np.array([[b"a"], [b"b"]], dtype=object)}),
     "INVALID_ARGUMENT", r"has shape \[2, 1\]"),
    (dict(inputs={"user_id": np.array([b"u"] * 17, dtype=object)}),
     "INVALID_ARGUMENT", r"17 queries in one request; at most 16"),
    (dict(signature="serving_default",
          inputs={"examples": np.array([b"\xff\xff"], dtype=object)}),
     "INVALID_ARGUMENT", r"row 0: not a serialized tf.Example"),
    (dict(name="other"), "NOT_FOUND", r"Servable not found.*other"),
    (dict(version=7), "NOT_FOUND", r"version 7 of cdnrec is not being "
     r"served \(serving 1\)"),
    (dict(output_filter=["nope"]), "INVALID_ARGUMENT",
     r"output_filter names unknown outputs \['nope'\]"),
])
def test_bad_requests_get_the_code_and_the_reason(both, call, code, message):
  _, connection, _, _ = both
  call = dict(call)
  inputs = call.pop("inputs", {"user_id": np.array([b"u1"], dtype=object)})
  with pytest.raises(grpc_client.ServerError, match=message) as raised:
    _predict(connection, inputs, **call)
  assert raised.value.code.name == code


def test_a_tensor_claiming_a_huge_shape_is_refused_before_decoding(both):
  """TF pads a TensorProto to the size its shape claims: a 30-byte request
  must not make the server allocate gigabytes."""
  from tensorflow.core.framework import tensor_pb2
  from tensorflow.core.framework import types_pb2
  _, connection, _, _ = both
  request = predict_pb2.PredictRequest()
  request.model_spec.name = NAME
  request.model_spec.signature_name = "serve_features"
  proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING,
                                 string_val=[b"u1"])
  proto.tensor_shape.dim.add().size = 2_000_000_000
  request.inputs["user_id"].CopyFrom(proto)
  with pytest.raises(grpc_client.ServerError,
                     match=r"2000000000 queries in one request; at most 16"):
    connection._call(connection._predictions.Predict, request)


def test_a_version_label_is_an_invalid_argument_as_in_tf_serving(both):
  _, connection, _, _ = both
  request = get_model_status_pb2.GetModelStatusRequest()
  request.model_spec.name = NAME
  request.model_spec.version_label = "stable"
  with pytest.raises(grpc_client.ServerError,
                     match="Unrecognized servable version label") as raised:
    connection._call(connection._models.GetModelStatus, request)
  assert raised.value.code.name == "INVALID_ARGUMENT"


def test_metadata_needs_the_signature_def_field(both):
  _, connection, _, _ = both
  request = get_model_metadata_pb2.GetModelMetadataRequest(
      metadata_field=["other"])
  request.model_spec.name = NAME
  with pytest.raises(grpc_client.ServerError,
                     match=r"metadata_field must be \['signature_def'\]"):
    connection._call(connection._predictions.GetModelMetadata, request)


def test_switches_versions_as_rest_does(trained, tmp_path):
  base = str(tmp_path / NAME)
  versions.publish(trained.serving_model_dir, base, 1)
  url, target, rest, grpc_srv, holder = _start(base)
  try:
    with grpc_client.Client(target) as connection:
      assert connection.status(NAME).model_version_status[0].version == 1
      versions.publish(trained.serving_model_dir, base, 2)
      assert holder.refresh()
      assert connection.status(NAME).model_version_status[0].version == 2
      assert client.status(url, NAME)["model_version_status"][0][
          "version"] == "2"
      assert _predict(connection, {"user_id": np.array(
          [b"u1"], dtype=object)}).model_spec.version.value == 2
  finally:
    _stop(rest, grpc_srv)


def test_batching_shares_model_calls_across_grpc_requests(model_base, both,
                                                          test_users):
  _, connection, _, _ = both
  users, _ = test_users
  url, target, rest, grpc_srv, _ = _start(
      model_base, batching.BatchingConfig(max_batch_size=8,
                                          batch_timeout_micros=20_000))
  try:
    with grpc_client.Client(target) as batched:
      types = batched.input_types(NAME)
      with concurrent.futures.ThreadPoolExecutor(len(users)) as pool:
        got = list(pool.map(
            lambda u: batched.predict(NAME, [u], types=types)[0], users))
    want = [connection.predict(NAME, [u])[0] for u in users]
  finally:
    _stop(rest, grpc_srv)
  assert [g["item_ids"] for g in got] == [w["item_ids"] for w in want]
  assert rest.run_signature.batches_run < len(users)


def _metrics(url):
  with urllib.request.urlopen(f"{url}{metrics_lib.PATH}") as response:
    assert response.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(
        response.read().decode())}
  return families


def _value(families, family, sample_name, **labels):
  return sum(s.value for s in families[family].samples
             if s.name == sample_name and
             all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_count_both_protocols_by_signature_and_status(model_base,
                                                              test_users):
  users, records = test_users
  url, target, rest, grpc_srv, _ = _start(model_base)
  try:
    with grpc_client.Client(target) as connection:
      for user in users[:3]:
        connection.predict(NAME, [user])
      with pytest.raises(grpc_client.ServerError):
        _predict(connection, {"nope": np.array([b"x"], dtype=object)})
    client.predict(url, NAME, users[:2])
    with pytest.raises(client.ServerError):
      client.predict(url, NAME, [{"nope": 1}])
    client.status(url, NAME)
    families = _metrics(url)
  finally:
    _stop(rest, grpc_srv)
  count = ":tensorflow:serving:request_count"
  assert _value(families, count, count + "_total", status="OK") == 4
  assert _value(families, count, count + "_total",
                status="INVALID_ARGUMENT") == 2
  requests = ":cdnrec:serving:requests"
  assert _value(families, requests, requests + "_total", entrypoint="GRPC",
                API="Predict", signature_name="serve_features",
                status="OK") == 3
  assert _value(families, requests, requests + "_total", entrypoint="REST",
                API="GetModelStatus", status="OK") == 1
  latency = ":tensorflow:serving:request_latency"
  assert _value(families, latency, latency + "_count",
                entrypoint="GRPC") == 3
  assert _value(families, latency, latency + "_count",
                entrypoint="REST") == 1
  assert _value(families, latency, latency + "_bucket", entrypoint="GRPC",
                le="+Inf") == 3
  assert _value(families, latency, latency + "_sum", entrypoint="GRPC") > 0
  version = ":cdnrec:serving:model_version"
  assert _value(families, version, version, model_name=NAME) == 1
  warmup = ":tensorflow:serving:model_warmup_latency"
  assert _value(families, warmup, warmup + "_count", status="OK") == 0, (
      "the holder here was built without the metrics' warm-up hook")


def test_histogram_buckets_are_cumulative_and_tf_servings():
  metrics = metrics_lib.ServingMetrics("m")
  for seconds in (0.00001, 0.001, 0.001, 5000.0):
    metrics.record("REST", "predict", "s", "OK", seconds)
  families = {f.name: f for f in text_string_to_metric_families(
      metrics.render(3))}
  buckets = [s for s in families[":tensorflow:serving:request_latency"]
             .samples if s.name.endswith("_bucket")]
  assert len(buckets) == 34  # Exponential(10, 1.8, 33) and +Inf
  values = [s.value for s in buckets]
  assert values == sorted(values) and values[-1] == 4
  assert values[0] == 1  # 10 µs falls in the first bucket (le=10)
  assert values[-2] == 3  # 5000 s lies past the last bound (1,450 s)


def test_cdnrec_query_speaks_grpc(both, test_users):
  url, connection, _, _ = both
  users, _ = test_users
  target = f"grpc://{connection.target}"
  code, out, err = cli_runner.query_server(target, NAME, users[0])
  assert code == 0, err[-2000:]
  answer = json.loads(out.strip().splitlines()[-1])
  expected = client.predict(url, NAME, users[:1], k=5)[0]["item_ids"]
  assert [i["item_id"] for i in answer["items"]] == expected
  code, _, err = cli_runner.query_server(target, "nope", {"user_id": "u"})
  assert code == 2
  assert "gRPC NOT_FOUND: Servable not found" in err


def test_an_unreachable_grpc_server_is_one_clear_error():
  free = socket.socket()
  free.bind(("127.0.0.1", 0))
  port = free.getsockname()[1]
  free.close()
  with grpc_client.Client(f"grpc://127.0.0.1:{port}", timeout=5) as c:
    with pytest.raises(client.ServerError,
                       match=rf"cannot reach 127\.0\.0\.1:{port}") as raised:
      c.status(NAME)
  assert raised.value.status == 0


def test_a_grpc_port_in_use_is_one_clear_error(model_base):
  taken = socket.socket()
  taken.bind(("127.0.0.1", 0))
  taken.listen()
  port = taken.getsockname()[1]
  try:
    with pytest.raises(ConfigError, match=rf"cannot listen for gRPC on "
                       rf"127\.0\.0\.1:{port}"):
      grpc_server.start(None, NAME, "127.0.0.1", port)
  finally:
    taken.close()


def test_unimplemented_apis_say_so(both):
  from tensorflow_serving.apis import classification_pb2
  _, connection, _, _ = both
  channel = grpc.insecure_channel(connection.target)
  from tensorflow_serving.apis import prediction_service_pb2_grpc
  stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
  with pytest.raises(grpc.RpcError) as raised:
    stub.Classify(classification_pb2.ClassificationRequest(), timeout=10)
  assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
  channel.close()


def test_cdnrec_serve_answers_rest_and_grpc_after_warming_up(model_base,
                                                             test_users):
  """The command as users run it: both ports, warm-up replayed (counted in
  the metrics) before the version serves."""
  import re
  users, _ = test_users
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  process = subprocess.Popen(
      [sys.executable, "-m", "cdnrec.cli", "serve", "--model-dir",
       model_base, "--port", "0", "--grpc-port", "0"],
      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=root,
      env=dict(os.environ, PYTHONUNBUFFERED="1"))
  try:
    line = process.stdout.readline()
    found = re.search(r"on http://127\.0\.0\.1:(\d+)/v1/models/cdnrec and "
                      r"grpc://127\.0\.0\.1:(\d+)", line)
    assert found, line
    url = f"http://127.0.0.1:{found.group(1)}"
    with grpc_client.Client(f"grpc://127.0.0.1:{found.group(2)}") as c:
      assert c.predict(NAME, users[:2]) == client.predict(url, NAME,
                                                          users[:2])
    families = _metrics(url)
  finally:
    process.terminate()
    process.wait(timeout=60)
  warmup = ":tensorflow:serving:model_warmup_latency"
  assert _value(families, warmup, warmup + "_count", status="OK") == 1
