"""`cdnrec serve` over real HTTP on loopback: TF Serving's REST API,
answers equal to the SavedModel's, clear 400s, a bounded load test, and a
version switch under load without a failed request."""

import base64
import concurrent.futures
import http.client
import json
import os
import shutil
import threading
import time

import cli_runner
import numpy as np
import pytest

from cdnrec.components.pusher import versions
from cdnrec.serving import client
from cdnrec.serving import model as serving_model
from cdnrec.serving import holder as holder_lib
from cdnrec.serving import server as server_lib

K = 20  # the `trained` fixture's serving_k (conftest.py)
NAME = "cdnrec"


@pytest.fixture(scope="module")
def model_base(trained, tmp_path_factory):
  """A TF Serving model_base_path holding version 1."""
  base = str(tmp_path_factory.mktemp("serving") / NAME)
  versions.publish(trained.serving_model_dir, base, 1)
  return base


@pytest.fixture(scope="module")
def served(model_base):
  holder = holder_lib.ModelHolder(model_base)
  server = server_lib.RetrievalServer(holder, NAME, "127.0.0.1", 0,
                                      max_body_bytes=64 * 1024,
                                      max_batch=16, poll_seconds=0.2)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  host, port = server.server_address
  yield f"http://{host}:{port}", server
  server.shutdown()
  server.server_close()


def _post(url, body, raw=None, headers=None):
  """(status, decoded JSON) of a POST with a JSON (or raw) body."""
  host_port = url.split("//", 1)[1].split("/", 1)[0]
  connection = http.client.HTTPConnection(host_port, timeout=30)
  data = raw if raw is not None else json.dumps(body).encode()
  connection.request("POST", f"/v1/models/{NAME}:predict", body=data,
                     headers=headers or {"Content-Type": "application/json"})
  response = connection.getresponse()
  payload = json.loads(response.read())
  connection.close()
  return response.status, payload


def test_binds_loopback_by_default(served):
  _, server = served
  assert server.server_address[0] == "127.0.0.1"


def test_status_and_metadata(served):
  url, _ = served
  assert client.status(url, NAME) == {"model_version_status": [{
      "version": "1", "state": "AVAILABLE",
      "status": {"error_code": "OK", "error_message": ""}}]}
  meta = client.metadata(url, NAME)
  signatures = meta["metadata"]["signature_def"]["signature_def"]
  assert {"serving_default", "serve_features"} <= set(signatures)
  assert signatures["serving_default"]["inputs"]["examples"]["dtype"] == (
      "DT_STRING")
  assert set(signatures["serve_features"]["outputs"]) == {"item_ids",
                                                         "scores"}
  assert meta["model_spec"] == {"name": NAME, "signature_name": "",
                                "version": "1"}
  with pytest.raises(client.ServerError, match="404.*Servable not found"):
    client.status(url, "other")


def test_answers_equal_the_saved_model(served, model_base, test_users):
  url, _ = served
  users, records = test_users
  direct = serving_model.RetrievalModel(model_base)
  expected = direct.query({n: [u[n] for u in users] for n in users[0]})
  by_features = client.predict(url, NAME, users)
  by_examples = _post(url, {"instances": [
      {"b64": base64.b64encode(r).decode()} for r in records]})[1]
  columnar = _post(url, {"signature_name": "serve_features", "inputs": {
      n: [u[n] for u in users] for n in users[0]}})[1]["outputs"]
  for i, want in enumerate(expected):
    for got in (by_features[i], by_examples["predictions"][i]):
      assert got["item_ids"] == [item for item, _ in want]
      np.testing.assert_allclose(got["scores"], [s for _, s in want],
                                 rtol=1e-5)
    assert columnar["item_ids"][i] == [item for item, _ in want]


def test_cdnrec_query_is_a_client(served, test_users):
  url, _ = served
  users, _ = test_users
  code, out, err = cli_runner.query_server(url, NAME, users[0])
  assert code == 0, err[-2000:]
  answer = json.loads(out.strip().splitlines()[-1])
  expected = client.predict(url, NAME, users[:1], k=5)[0]["item_ids"]
  assert [i["item_id"] for i in answer["items"]] == expected
  code, _, err = cli_runner.query_server(url, "nope", {"user_id": "u"})
  assert code == 2
  assert "error: HTTP 404" in err


def test_k_trims_and_is_bounded(served, test_users):
  url, _ = served
  users, _ = test_users
  full = client.predict(url, NAME, users[:1])[0]
  five = client.predict(url, NAME, users[:1], k=5)[0]
  assert five["item_ids"] == full["item_ids"][:5]
  for bad in (0, K + 1, "5", 2.5, True):
    status, payload = _post(url, {"signature_name": "serve_features",
                                  "instances": users[:1], "k": bad})
    assert status == 400
    assert f"k must be an integer in [1, {K}]" in payload["error"]


def test_unknown_users_and_values_are_answered(served):
  url, _ = served
  answers = client.predict(url, NAME, [{"user_id": "nobody"},
                                       {"user_id": "", "user_age": "never"}])
  assert [len(a["item_ids"]) for a in answers] == [K, K]


@pytest.mark.parametrize("body,raw,message", [
    (None, b"{not json", "malformed JSON"),
    ([1, 2], None, "must be a JSON object"),
    ({"instances": []}, None, "non-empty list"),
    ({"instances": [{}], "inputs": {}}, None, "exactly one of"),
    ({"signature_name": "serve_features",
      "instances": [{"user_id": {"a": 1}}]}, None,
     "input 'user_id' row 0: expected a string"),
    ({"signature_name": "serve_features",
      "instances": [{"user_id": "u1", "shoe_size": "9"}]}, None,
     "unknown inputs ['shoe_size']"),
    ({"signature_name": "serve_features",
      "inputs": {"user_id": ["a", "b"], "user_age": ["x"]}}, None,
     "all of one length"),
    ({"instances": [{"b64": "***"}]}, None, "bad base64"),
    ({"instances": [{"b64": base64.b64encode(b"\n\x05abc").decode()}]}, None,
     "input 'examples' row 0: not a serialized tf.Example"),
    ({"signature_name": "nope", "instances": [{}]}, None,
     "unknown signature_name 'nope'"),
    ({"signature_name": "serve_features",
      "instances": [{"user_id": "u"}] * 17}, None,
     "17 queries in one request; at most 16"),
])
def test_bad_requests_get_a_400_that_says_why(served, body, raw, message):
  url, _ = served
  status, payload = _post(url, body, raw)
  assert status == 400
  assert message in payload["error"]


def test_oversized_body_is_refused(served):
  url, _ = served
  status, payload = _post(url, None, raw=b" " * (64 * 1024 + 1))
  assert status == 400
  assert "at most 65536" in payload["error"]


def _load(url, users, clients, requests_each=None, stop=None):
  """Latencies (s), errors and versions seen of `clients` threads, each
  sending `requests_each` predicts, or predicts until `stop` is set."""
  def one_client(seed):
    latencies, errors, versions_seen = [], [], set()
    i = 0
    while (i < requests_each) if requests_each else not stop.is_set():
      user = users[(seed + i) % len(users)]
      i += 1
      started = time.perf_counter()
      try:
        answer = client.predict(url, NAME, [user], k=10)
        assert len(answer[0]["item_ids"]) == 10
        versions_seen.add(client.status(url, NAME)["model_version_status"][
            0]["version"])
      except Exception as e:  # pylint: disable=broad-except
        errors.append(repr(e))  # counted, and the test fails on any
      latencies.append(time.perf_counter() - started)
    return latencies, errors, versions_seen
  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    results = list(pool.map(one_client, range(clients)))
  return ([x for r in results for x in r[0]], [x for r in results for x in r[1]],
          set().union(*(r[2] for r in results)))


def test_bounded_load(served, test_users, capsys):
  url, _ = served
  latencies, errors, _ = _load(url, test_users[0], clients=8,
                               requests_each=25)
  assert errors == []
  p50, p95, p99 = np.percentile(np.array(latencies) * 1000, [50, 95, 99])
  with capsys.disabled():
    print(f"\n[load] 8 clients x 25 predicts: p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms, p99 {p99:.1f} ms (predict + status)")


def test_version_switch_under_load(served, model_base, trained, test_users):
  url, server = served
  results = {}
  stop = threading.Event()
  worker = threading.Thread(target=lambda: results.update(
      zip(("latencies", "errors", "versions"),
          _load(url, test_users[0], clients=4, stop=stop))))
  worker.start()
  try:
    time.sleep(0.5)
    new_version = server.holder.current.version + 1
    versions.publish(trained.serving_model_dir, model_base, new_version)
    deadline = time.time() + 60
    while server.holder.current.version != new_version and (
        time.time() < deadline):
      time.sleep(0.1)
    time.sleep(0.5)  # keep the load on the new version a while
  finally:
    stop.set()
    worker.join(timeout=60)
  assert server.holder.current.version == new_version
  assert results["errors"] == []
  # Requests were answered by both versions, none failed in between.
  assert {str(new_version - 1), str(new_version)} <= results["versions"]


def test_a_broken_new_version_does_not_replace_the_served_one(served,
                                                              model_base):
  _, server = served
  served_version = server.holder.current.version
  broken = os.path.join(model_base, str(served_version + 1))
  os.makedirs(broken)
  with open(os.path.join(broken, "saved_model.pb"), "w") as f:
    f.write("not a SavedModel")
  try:
    assert server.holder.refresh() is False
    assert server.holder.current.version == served_version
  finally:
    shutil.rmtree(broken)


def _request(url, method, body=b"", path=f"/v1/models/{NAME}"):
  """(status, headers, raw body) of one request on a fresh connection."""
  host_port = url.split("//", 1)[1].split("/", 1)[0]
  connection = http.client.HTTPConnection(host_port, timeout=30)
  connection.request(method, path, body=body or None)
  response = connection.getresponse()
  payload = response.read()
  connection.close()
  return response.status, dict(response.getheaders()), payload


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS",
                                    "BREW"])
def test_other_methods_get_a_405_in_json(served, method):
  url, _ = served
  status, headers, payload = _request(url, method, b"{}")
  assert status == 405
  assert headers["Allow"] == "GET, POST"
  assert headers["Content-Type"] == "application/json"
  assert json.loads(payload)["error"] == (
      f"method {method} is not allowed; use GET or POST")
  status, headers, payload = _request(url, "HEAD")
  assert (status, payload) == (405, b"")


@pytest.mark.parametrize("raw,message", [
    (b"[" * 30000 + b"]" * 30000, "malformed JSON: nested too deeply"),
    (b'{"instances": [' + b"9" * 5000 + b"]}", "malformed JSON"),
    (json.dumps({"signature_name": ["serve_features"],
                 "instances": [{"user_id": "u"}]}).encode(),
     "signature_name must be a string"),
])
def test_client_errors_that_were_500s_are_400s(served, raw, message):
  url, _ = served
  status, payload = _post(url, None, raw=raw)
  assert status == 400
  assert message in payload["error"]


def test_idle_connections_are_closed(model_base):
  import socket
  holder = holder_lib.ModelHolder(model_base)
  server = server_lib.RetrievalServer(holder, NAME, "127.0.0.1", 0,
                                      poll_seconds=0, idle_timeout=0.5)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    idle = socket.create_connection(server.server_address, timeout=10)
    started = time.perf_counter()
    assert idle.recv(1) == b""  # closed by the server, not by this timeout
    assert time.perf_counter() - started < 5
    idle.close()
  finally:
    server.shutdown()
    server.server_close()


def test_a_port_in_use_is_one_clear_error():
  import socket
  from cdnrec.core.errors import ConfigError
  taken = socket.socket()
  taken.bind(("127.0.0.1", 0))
  taken.listen()
  port = taken.getsockname()[1]
  try:
    with pytest.raises(ConfigError, match=rf"cannot listen on 127\.0\.0\.1:"
                       rf"{port}: .*another server is using it"):
      server_lib.RetrievalServer(None, NAME, "127.0.0.1", port)
  finally:
    taken.close()


def test_an_unreachable_server_is_one_clear_error():
  import socket
  free = socket.socket()
  free.bind(("127.0.0.1", 0))
  port = free.getsockname()[1]
  free.close()
  with pytest.raises(client.ServerError,
                     match=rf"cannot reach http://127\.0\.0\.1:{port}/v1/"
                     r"models/m: .*[Cc]onnection refused"):
    client.status(f"http://127.0.0.1:{port}", "m")


def test_startup_skips_a_newest_version_that_does_not_load(model_base,
                                                           tmp_path):
  base = str(tmp_path / NAME)
  shutil.copytree(os.path.join(model_base, "1"), os.path.join(base, "1"))
  os.makedirs(os.path.join(base, "2"))  # still empty: being copied in
  holder = holder_lib.ModelHolder(base)
  assert holder.current.version == 1
  empty = str(tmp_path / "empty")
  os.makedirs(os.path.join(empty, "3"))
  from cdnrec.core.errors import ConfigError
  with pytest.raises(ConfigError, match=r"no version loads \(3: "):
    holder_lib.ModelHolder(empty)
  broken = tmp_path / "one_saved_model"  # not TF Serving's layout
  broken.mkdir()
  (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
  with pytest.raises(ConfigError, match=r"one_saved_model: the SavedModel "
                     r"does not load \("):
    holder_lib.ModelHolder(str(broken))


@pytest.mark.slow
def test_sixteen_clients_a_thousand_requests_each_none_fails(served,
                                                             test_users):
  """The load of `cdnrec bench serve`, counting failures only (latency is
  the benchmark's: docs/benchmarks.md)."""
  url, _ = served
  users = test_users[0]

  def one_client(seed):
    errors = []
    for i in range(1000):
      try:
        answer = client.predict(url, NAME, [users[(seed + i) % len(users)]],
                                k=10)
        assert len(answer[0]["item_ids"]) == 10
      except Exception as e:  # pylint: disable=broad-except
        errors.append(repr(e))  # counted; any fails the test
    return errors
  with concurrent.futures.ThreadPoolExecutor(16) as pool:
    errors = [e for found in pool.map(one_client, range(16)) for e in found]
  assert errors == []


def test_a_slow_non_atomic_copy_is_served_once_complete(served, model_base,
                                                        trained, test_users):
  """A version copied file by file (as `gsutil cp -r` or `cp -r` would),
  seen by the poller half-way: served once complete, nothing fails."""
  url, server = served
  results = {}
  stop = threading.Event()
  worker = threading.Thread(target=lambda: results.update(
      zip(("latencies", "errors", "versions"),
          _load(url, test_users[0], clients=2, stop=stop))))
  worker.start()
  new_version = server.holder.current.version + 1
  target = os.path.join(model_base, str(new_version))
  try:
    source = trained.serving_model_dir
    for directory, _, files in os.walk(source):
      os.makedirs(os.path.join(target, os.path.relpath(directory, source)),
                  exist_ok=True)
      for name in files:
        shutil.copy(os.path.join(directory, name), os.path.join(
            target, os.path.relpath(directory, source), name))
        time.sleep(0.3)  # the poller (every 0.2 s) sees every half state
    deadline = time.time() + 60
    while server.holder.current.version != new_version and (
        time.time() < deadline):
      time.sleep(0.1)
  finally:
    stop.set()
    worker.join(timeout=60)
  assert server.holder.current.version == new_version
  assert results["errors"] == []


def test_batching_answers_as_without_it(model_base, served, test_users):
  """Concurrent requests to a server with --batching share model calls and
  get exactly what a server without it answers."""
  from cdnrec.serving import batching
  url, _ = served
  users, records = test_users
  holder = holder_lib.ModelHolder(model_base)
  batched = server_lib.RetrievalServer(
      holder, NAME, "127.0.0.1", 0, poll_seconds=0,
      batching=batching.BatchingConfig(max_batch_size=8,
                                       batch_timeout_micros=20_000))
  thread = threading.Thread(target=batched.serve_forever, daemon=True)
  thread.start()
  batched_url = "http://{}:{}".format(*batched.server_address)
  try:
    requests = [("features", u) for u in users] + [
        ("examples", r) for r in records]

    def ask(base, request):
      kind, value = request
      if kind == "features":
        return client.predict(base, NAME, [value], k=10)[0]
      return _post(base, {"instances": [
          {"b64": base64.b64encode(value).decode()}]})[1]["predictions"][0]
    with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
      got = list(pool.map(lambda r: ask(batched_url, r), requests))
    want = [ask(url, r) for r in requests]
  finally:
    batched.shutdown()
    batched.server_close()
  for g, w in zip(got, want):
    assert g["item_ids"][:10] == w["item_ids"][:10]
    np.testing.assert_allclose(g["scores"][:10], w["scores"][:10], rtol=1e-5)
  assert batched.run_signature.batches_run < len(requests)
