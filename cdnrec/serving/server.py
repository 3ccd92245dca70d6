"""`cdnrec serve`: a local server speaking TF Serving's REST API.

  GET  /v1/models/<name>[/versions/<v>]            version status
  GET  /v1/models/<name>[/versions/<v>]/metadata   signature definitions
  POST /v1/models/<name>[/versions/<v>]:predict    {"instances": [...]} (row)
                                                   or {"inputs": {...}} (columnar)

Predict takes TF Serving's optional "signature_name" (default
"serving_default": serialized tf.Examples as {"b64": ...}; "serve_features"
takes one value per user feature) and, beyond TF Serving, an optional
"k" (1..the model's K) that trims the returned top items. Missing string
features are sent empty and missing numbers as NaN, which the model reads as
unknown (OOV bucket / training mean), so an unknown user is answered, never
an error.

  GET  /monitoring/prometheus/metrics              Prometheus metrics

The model is the one a holder.ModelHolder serves (the newest loadable
version, swapped as new ones appear; a poller here looks for them).
Client errors get a 4xx whose
JSON "error" says what was wrong; methods other than GET and POST get 405.
Idle connections are closed after --idle-timeout-seconds.
"""

import base64
import errno
import json
import logging
import math
import re
import threading
import time
from http import server as http_server
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf
from google.protobuf import json_format

from cdnrec.core.errors import ConfigError
from cdnrec.serving import batching as batching_lib
from cdnrec.serving import defaults
from cdnrec.serving import holder as holder_lib
from cdnrec.serving import metrics as metrics_lib
from cdnrec.serving import model as serving_model
from cdnrec.serving import predict as predict_lib
from cdnrec.serving.predict import BadRequest, NotFound

_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)"
                   r"(?:/versions/(?P<version>\d+))?"
                   r"(?P<rest>/metadata|:predict)?$")
_log = logging.getLogger("cdnrec.serve")
# (method, path suffix) -> the API a request calls, for metrics.
_API = {("GET", ""): "status", ("GET", "/metadata"): "metadata",
        ("POST", ":predict"): "predict"}


def _tensor(name: str, spec: tf.TensorSpec, values: List[Any]) -> np.ndarray:
  """One input's values as the array the signature takes."""
  if spec.dtype == tf.string:
    out = []
    for i, v in enumerate(values):
      if isinstance(v, dict) and set(v) == {"b64"}:
        try:
          out.append(base64.b64decode(v["b64"], validate=True))
        except (ValueError, TypeError) as e:
          raise BadRequest(f"input {name!r} row {i}: bad base64: {e}")
      elif isinstance(v, (str, int)) and not isinstance(v, bool):
        out.append(str(v))
      elif v is None:
        out.append("")
      else:
        raise BadRequest(f"input {name!r} row {i}: expected a string, got "
                         f"{json.dumps(v)[:80]}")
    return np.array(out, dtype=object)
  out = []
  for i, v in enumerate(values):
    if v is None:
      out.append(math.nan)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
      try:
        out.append(float(v))
      except OverflowError:
        raise BadRequest(f"input {name!r} row {i}: {str(v)[:20]}... is too "
                         "large for a float")
    else:
      raise BadRequest(f"input {name!r} row {i}: expected a number, got "
                       f"{json.dumps(v)[:80]}")
  return np.array(out, dtype=spec.dtype.as_numpy_dtype)


def _columns(body: Dict[str, Any], specs: Dict[str, tf.TensorSpec]
             ) -> Tuple[Dict[str, List[Any]], bool]:
  """(input name -> values, row format?) from a predict body."""
  if ("instances" in body) == ("inputs" in body):
    raise BadRequest('the body needs exactly one of "instances" (row '
                     'format) or "inputs" (columnar format)')
  single = next(iter(specs)) if len(specs) == 1 else None
  if "instances" in body:
    rows = body["instances"]
    if not isinstance(rows, list) or not rows:
      raise BadRequest('"instances" must be a non-empty list')
    columns: Dict[str, List[Any]] = {name: [] for name in specs}
    for i, row in enumerate(rows):
      if single and not (isinstance(row, dict) and single in row):
        row = {single: row}
      if not isinstance(row, dict):
        raise BadRequest(f"instance {i} must be an object of input values")
      unknown = sorted(set(row) - set(specs))
      if unknown:
        raise BadRequest(f"instance {i}: unknown inputs {unknown}; the "
                         f"signature takes {sorted(specs)}")
      for name in specs:
        columns[name].append(row.get(name))
    n, row_format = len(rows), True
  else:
    given = body["inputs"]
    if single and not isinstance(given, dict):
      given = {single: given}
    if not isinstance(given, dict):
      raise BadRequest('"inputs" must map input names to lists of values')
    unknown = sorted(set(given) - set(specs))
    if unknown:
      raise BadRequest(f"unknown inputs {unknown}; the signature takes "
                       f"{sorted(specs)}")
    lengths = {len(v) if isinstance(v, list) else -1 for v in given.values()}
    if -1 in lengths or len(lengths) != 1 or 0 in lengths:
      raise BadRequest('every "inputs" value must be a non-empty list, all '
                       'of one length')
    n = lengths.pop()
    columns = {name: given.get(name, [None] * n) for name in specs}
    row_format = False
  return columns, row_format


def predict(model: serving_model.RetrievalModel, body: Any,
            max_batch: int = defaults.MAX_BATCH,
            run: predict_lib.RunFn = predict_lib.run_signature
            ) -> Tuple[str, Dict[str, Any]]:
  """(signature name, answer) for one predict body (already
  JSON-decoded); raises BadRequest."""
  if not isinstance(body, dict):
    raise BadRequest("the body must be a JSON object")
  signature_name = body.get("signature_name") or predict_lib.DEFAULT_SIGNATURE
  if not isinstance(signature_name, str):
    raise BadRequest(f"signature_name must be a string, got "
                     f"{json.dumps(signature_name)[:80]}")
  signature_name = predict_lib.check_signature(model, signature_name)
  k = body.get("k", model.k)
  if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= model.k:
    raise BadRequest(f"k must be an integer in [1, {model.k}], got "
                     f"{json.dumps(k)}")
  specs = model.input_specs(signature_name)
  columns, row_format = _columns(body, specs)
  tensors = {name: _tensor(name, specs[name], values)
             for name, values in columns.items()}
  outputs = predict_lib.predict_arrays(model, signature_name, tensors,
                                       max_batch, run)
  arrays = {}
  for name, value in outputs.items():
    if name in ("item_ids", "scores"):
      value = value[:, :k]
    if value.dtype.kind in ("S", "O"):
      value = np.vectorize(lambda b: b.decode())(value) if value.size else value
    arrays[name] = value.tolist()
  if row_format:
    n = len(next(iter(arrays.values())))
    return signature_name, {"predictions": [
        {name: values[i] for name, values in arrays.items()}
        for i in range(n)]}
  return signature_name, {"outputs": arrays}


def status(model: serving_model.RetrievalModel) -> Dict[str, Any]:
  return json_format.MessageToDict(predict_lib.model_status(model),
                                   preserving_proto_field_name=True,
                                   including_default_value_fields=True)


def metadata(model: serving_model.RetrievalModel, name: str) -> Dict[str, Any]:
  signatures = json_format.MessageToDict(
      predict_lib.signature_def_map(model), preserving_proto_field_name=True)
  return {"model_spec": {"name": name, "signature_name": "",
                         "version": str(model.version)},
          "metadata": {"signature_def": signatures},
          "k": model.k}


class _Handler(http_server.BaseHTTPRequestHandler):
  server: "RetrievalServer"
  protocol_version = "HTTP/1.1"
  # The headers and the body leave in one send (http.server flushes after
  # each request), with no wait for the client's ACK.
  wbufsize = 1 << 16
  disable_nagle_algorithm = True

  def setup(self) -> None:
    # BaseHTTPRequestHandler sets this timeout on the socket: an idle
    # connection ends instead of holding a thread forever.
    self.timeout = self.server.idle_timeout
    super().setup()

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    _log.debug("%s " + format, self.address_string(), *args)

  def send_error(self, code, message=None, explain=None):
    """http.server's own errors (a bad request line, an unknown method...)
    as JSON like every other answer; an unknown method is 405."""
    allow = None
    if code == 501:
      code, allow = 405, "GET, POST"
      message = f"method {self.command} is not allowed; use GET or POST"
    data = json.dumps({"error": message or explain or str(code)}).encode()
    try:
      self.send_response(code, None)
      self.send_header("Content-Type", "application/json")
      self.send_header("Content-Length", str(len(data)))
      if allow:
        self.send_header("Allow", allow)
      self.send_header("Connection", "close")
      self.end_headers()
      if self.command != "HEAD" and code >= 200 and code not in (204, 304):
        self.wfile.write(data)
    finally:
      self.close_connection = True

  def _reply(self, code: int, payload: Dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    self.send_response(code)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def _route(self) -> Tuple[serving_model.RetrievalModel, str, str]:
    match = _PATH.match(self.path.split("?", 1)[0])
    if not match:
      raise NotFound(f"no such path {self.path!r}; try "
                     f"/v1/models/{self.server.model_name}")
    name, version = match.group("name"), match.group("version")
    model = predict_lib.find_model(
        self.server.holder.current, self.server.model_name, name,
        None if version is None else int(version))
    return model, name, match.group("rest") or ""

  def _handle(self, method: str) -> None:
    if method == "GET" and self.path.split("?", 1)[0] == (
        self.server.metrics.path):
      return self._reply_text(200, self.server.metrics.render(
          self.server.holder.current.version))
    started = time.perf_counter()
    api, signature, code = "other", "", "OK"
    try:
      model, name, rest = self._route()
      api = _API.get((method, rest), "other")
      if api == "status":
        return self._reply(200, status(model))
      if api == "metadata":
        return self._reply(200, metadata(model, name))
      if api == "predict":
        signature, answer = predict(model, self._json_body(),
                                    self.server.max_batch,
                                    self.server.run_signature)
        return self._reply(200, answer)
      raise NotFound(f"{method} {self.path} is not supported")
    except BadRequest as e:
      code = "INVALID_ARGUMENT"
      self._reply(400, {"error": str(e)})
    except NotFound as e:
      code = "NOT_FOUND"
      if method == "POST":
        # The body was not read: left on the connection, it would be
        # taken for the next request.
        self.close_connection = True
      self._reply(404, {"error": str(e)})
    except TimeoutError:
      # The client stopped sending mid-body: nothing to answer.
      code = "DEADLINE_EXCEEDED"
      self.close_connection = True
    except Exception as e:  # pylint: disable=broad-except
      # A server bug: logged with its traceback, answered as TF Serving
      # would, and the server keeps running.
      code = "INTERNAL"
      _log.exception("internal error answering %s %s", method, self.path)
      self._reply(500, {"error": f"internal error: {e}"})
    finally:
      self.server.metrics.record("REST", api, signature, code,
                                 time.perf_counter() - started)

  def _reply_text(self, code: int, text: str) -> None:
    data = text.encode()
    self.send_response(code)
    self.send_header("Content-Type", metrics_lib.CONTENT_TYPE)
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def _json_body(self) -> Any:
    length = self.headers.get("Content-Length")
    if length is None or not length.isdigit():
      raise BadRequest("a Content-Length header is required")
    if int(length) > self.server.max_body_bytes:
      # Unread, the body would be taken for the next request: close after.
      self.close_connection = True
      raise BadRequest(f"the body has {length} bytes; at most "
                       f"{self.server.max_body_bytes}")
    raw = self.rfile.read(int(length))
    try:
      return json.loads(raw)
    except RecursionError:
      raise BadRequest("malformed JSON: nested too deeply")
    except ValueError as e:  # not JSON, not UTF-8, an integer too long
      raise BadRequest(f"malformed JSON: {e}")

  def do_GET(self):  # pylint: disable=invalid-name
    self._handle("GET")

  def do_POST(self):  # pylint: disable=invalid-name
    self._handle("POST")

  def do_HEAD(self):  # pylint: disable=invalid-name
    self.send_error(501)

  do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD


class RetrievalServer(http_server.ThreadingHTTPServer):
  """Threads share the loaded model; TF calls run outside the GIL."""

  daemon_threads = True
  # socketserver's default of 5 resets connections under a few concurrent
  # clients.
  request_queue_size = defaults.LISTEN_BACKLOG

  def __init__(self, holder: holder_lib.ModelHolder, model_name: str,
               host: str, port: int,
               max_body_bytes: int = defaults.MAX_BODY_BYTES,
               max_batch: int = defaults.MAX_BATCH,
               poll_seconds: float = defaults.POLL_SECONDS,
               idle_timeout: float = defaults.IDLE_TIMEOUT_SECONDS,
               batching: Optional[batching_lib.BatchingConfig] = None,
               metrics: Optional[metrics_lib.ServingMetrics] = None):
    # Set before binding: a failed bind calls server_close.
    self._stop = threading.Event()
    self._batcher = None
    try:
      super().__init__((host, port), _Handler)
    except OSError as e:
      hint = (" (another server is using it; --port chooses another)"
              if e.errno == errno.EADDRINUSE else "")
      raise ConfigError(f"cannot listen on {host}:{port}: "
                        f"{e.strerror or e}{hint}") from None
    if idle_timeout <= 0:
      self.server_close()
      raise ConfigError(f"idle timeout must be > 0 seconds, got "
                        f"{idle_timeout}")
    self.idle_timeout = idle_timeout
    # Concurrent requests (REST and gRPC alike) share model calls when
    # batching is on.
    self._batcher = (batching_lib.Batcher(predict_lib.run_signature,
                                          batching) if batching else None)
    self.run_signature = self._batcher or predict_lib.run_signature
    self.metrics = metrics or metrics_lib.ServingMetrics(model_name)
    self.holder = holder
    self.model_name = model_name
    self.max_body_bytes = max_body_bytes
    self.max_batch = max_batch
    self._poll_seconds = poll_seconds
    self._poller = threading.Thread(target=self._poll, daemon=True,
                                    name="version-poller")

  def _poll(self) -> None:
    while not self._stop.wait(self._poll_seconds):
      try:
        self.holder.refresh()
      except Exception:  # pylint: disable=broad-except
        # e.g. the model folder vanished mid-listing: the served model
        # stays, the next poll looks again; the log says what happened.
        _log.exception("looking for new versions in %s failed",
                       self.holder.model_dir)

  def serve_forever(self, poll_interval: float = 0.5) -> None:
    if self._poll_seconds > 0 and not self._poller.is_alive():
      self._poller.start()
    super().serve_forever(poll_interval)

  def server_close(self) -> None:
    self._stop.set()
    super().server_close()
    if self._batcher:
      self._batcher.close()
