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

The newest numeric version under --model-dir is loaded (ScaNN ops
registered); a poller loads newer versions as they appear and swaps them in:
a request holds the model it started with, so nothing in flight fails.
Bad requests get a 400 whose "error" says what was wrong.
"""

import base64
import json
import logging
import math
import os
import re
import threading
from http import server as http_server
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from cdnrec.serving import defaults
from cdnrec.serving import model as serving_model

_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)"
                   r"(?:/versions/(?P<version>\d+))?"
                   r"(?P<rest>/metadata|:predict)?$")
_log = logging.getLogger("cdnrec.serve")


class BadRequest(ValueError):
  """A client error: answered with 400 and this message."""


class NotFound(LookupError):
  """Answered with 404 and this message."""


class ModelHolder:
  """The version being served, swapped atomically for newer ones."""

  def __init__(self, model_dir: str):
    self.model_dir = model_dir
    self._lock = threading.Lock()
    self._current = serving_model.RetrievalModel(model_dir)
    self._failed: set = set()

  @property
  def current(self) -> serving_model.RetrievalModel:
    with self._lock:
      return self._current

  def refresh(self) -> bool:
    """Loads the newest version if it is newer than the one served."""
    newest = serving_model.newest_version(self.model_dir)
    if newest is None or newest <= self.current.version or (
        newest in self._failed):
      return False
    try:
      loaded = serving_model.RetrievalModel(
          os.path.join(self.model_dir, str(newest)))
    except Exception as e:  # pylint: disable=broad-except
      # A broken version must not take down the one being served; it is
      # logged and not retried.
      self._failed.add(newest)
      _log.error("version %d failed to load, still serving %d: %s", newest,
                 self.current.version, e)
      return False
    with self._lock:
      self._current = loaded
    _log.info("now serving version %d", newest)
    return True


def _tensor(name: str, spec: tf.TensorSpec, values: List[Any]) -> tf.Tensor:
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
    return tf.constant(out, tf.string)
  out = []
  for i, v in enumerate(values):
    if v is None:
      out.append(math.nan)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
      out.append(float(v))
    else:
      raise BadRequest(f"input {name!r} row {i}: expected a number, got "
                       f"{json.dumps(v)[:80]}")
  return tf.constant(out, spec.dtype)


def _columns(body: Dict[str, Any], specs: Dict[str, tf.TensorSpec],
             max_batch: int) -> Tuple[Dict[str, List[Any]], bool]:
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
  if n > max_batch:
    raise BadRequest(f"{n} queries in one request; at most {max_batch}")
  return columns, row_format


def predict(model: serving_model.RetrievalModel, body: Any,
            max_batch: int = defaults.MAX_BATCH) -> Dict[str, Any]:
  """Answers one predict body (already JSON-decoded); raises BadRequest."""
  if not isinstance(body, dict):
    raise BadRequest("the body must be a JSON object")
  signature_name = body.get("signature_name") or "serving_default"
  if signature_name not in model.signatures:
    raise BadRequest(f"unknown signature_name {signature_name!r}; the "
                     f"model has {sorted(model.signatures)}")
  k = body.get("k", model.k)
  if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= model.k:
    raise BadRequest(f"k must be an integer in [1, {model.k}], got "
                     f"{json.dumps(k)}")
  specs = model.input_specs(signature_name)
  columns, row_format = _columns(body, specs, max_batch)
  tensors = {name: _tensor(name, specs[name], values)
             for name, values in columns.items()}
  try:
    outputs = model.signatures[signature_name](**tensors)
  except (tf.errors.InvalidArgumentError, ValueError) as e:
    # e.g. bytes that are not a serialized tf.Example.
    message = getattr(e, "message", str(e)).splitlines()[0]
    raise BadRequest(f"the model rejected the inputs: {message}")
  arrays = {}
  for name, tensor in outputs.items():
    value = tensor.numpy()
    if name in ("item_ids", "scores"):
      value = value[:, :k]
    if value.dtype.kind in ("S", "O"):
      value = np.vectorize(lambda b: b.decode())(value) if value.size else value
    arrays[name] = value.tolist()
  if row_format:
    n = len(next(iter(arrays.values())))
    return {"predictions": [{name: values[i] for name, values in arrays.items()}
                            for i in range(n)]}
  return {"outputs": arrays}


def status(model: serving_model.RetrievalModel) -> Dict[str, Any]:
  return {"model_version_status": [{
      "version": str(model.version), "state": "AVAILABLE",
      "status": {"error_code": "OK", "error_message": ""}}]}


def metadata(model: serving_model.RetrievalModel, name: str) -> Dict[str, Any]:
  def tensor_info(spec):
    return {"dtype": types_pb2.DataType.Name(spec.dtype.as_datatype_enum),
            "tensor_shape": (
                {"unknown_rank": True} if spec.shape.rank is None else
                {"dim": [{"size": str(-1 if d is None else d)}
                         for d in spec.shape]}),
            "name": spec.name or ""}
  signatures = {}
  for sig_name, fn in model.signatures.items():
    signatures[sig_name] = {
        "inputs": {n: tensor_info(s)
                   for n, s in model.input_specs(sig_name).items()},
        "outputs": {n: tensor_info(s)
                    for n, s in fn.structured_outputs.items()},
        "method_name": "tensorflow/serving/predict"}
  return {"model_spec": {"name": name, "signature_name": "",
                         "version": str(model.version)},
          "metadata": {"signature_def": {"signature_def": signatures}},
          "k": model.k}


class _Handler(http_server.BaseHTTPRequestHandler):
  server: "RetrievalServer"
  protocol_version = "HTTP/1.1"

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    _log.debug("%s " + format, self.address_string(), *args)

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
    name = match.group("name")
    model = self.server.holder.current
    if name != self.server.model_name:
      raise NotFound(f"Servable not found for request: Latest({name})")
    version = match.group("version")
    if version is not None and int(version) != model.version:
      raise NotFound(f"version {version} of {name} is not being served "
                     f"(serving {model.version})")
    return model, name, match.group("rest") or ""

  def _handle(self, method: str) -> None:
    try:
      model, name, rest = self._route()
      if method == "GET" and rest == "":
        return self._reply(200, status(model))
      if method == "GET" and rest == "/metadata":
        return self._reply(200, metadata(model, name))
      if method == "POST" and rest == ":predict":
        return self._reply(200, predict(model, self._json_body(),
                                        self.server.max_batch))
      raise NotFound(f"{method} {self.path} is not supported")
    except BadRequest as e:
      self._reply(400, {"error": str(e)})
    except NotFound as e:
      self._reply(404, {"error": str(e)})
    except Exception as e:  # pylint: disable=broad-except
      # A server bug: logged with its traceback, answered as TF Serving
      # would, and the server keeps running.
      _log.exception("internal error answering %s %s", method, self.path)
      self._reply(500, {"error": f"internal error: {e}"})

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
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
      raise BadRequest(f"malformed JSON: {e}")

  def do_GET(self):  # pylint: disable=invalid-name
    self._handle("GET")

  def do_POST(self):  # pylint: disable=invalid-name
    self._handle("POST")


class RetrievalServer(http_server.ThreadingHTTPServer):
  """Threads share the loaded model; TF calls run outside the GIL."""

  daemon_threads = True

  def __init__(self, holder: ModelHolder, model_name: str, host: str,
               port: int, max_body_bytes: int = defaults.MAX_BODY_BYTES,
               max_batch: int = defaults.MAX_BATCH,
               poll_seconds: float = defaults.POLL_SECONDS):
    super().__init__((host, port), _Handler)
    self.holder = holder
    self.model_name = model_name
    self.max_body_bytes = max_body_bytes
    self.max_batch = max_batch
    self._poll_seconds = poll_seconds
    self._stop = threading.Event()
    self._poller = threading.Thread(target=self._poll, daemon=True,
                                    name="version-poller")

  def _poll(self) -> None:
    while not self._stop.wait(self._poll_seconds):
      self.holder.refresh()

  def serve_forever(self, poll_interval: float = 0.5) -> None:
    if self._poll_seconds > 0 and not self._poller.is_alive():
      self._poller.start()
    super().serve_forever(poll_interval)

  def server_close(self) -> None:
    self._stop.set()
    super().server_close()


def serve(model_dir: str, model_name: Optional[str] = None,
          host: str = "127.0.0.1", port: int = defaults.PORT,
          **options) -> None:
  """Blocks, serving until interrupted."""
  holder = ModelHolder(model_dir)
  name = model_name or os.path.basename(os.path.normpath(model_dir))
  server = RetrievalServer(holder, name, host, port, **options)
  print(f"[cdnrec] serving {name} version {holder.current.version} from "
        f"{model_dir} on http://{host}:{server.server_address[1]}"
        f"/v1/models/{name}", flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()
