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

The newest numeric version under --model-dir that loads is served (ScaNN
ops registered); a poller loads newer versions as they appear and swaps
them in: a request holds the model it started with, so nothing in flight
fails. A version that fails to load (a folder still being copied, a broken
model) is tried again when its folder changes, or after a back-off; a
served version deleted from disk gives way to the newest loadable one left.
Each swap, failure and deletion is logged. Client errors get a 4xx whose
JSON "error" says what was wrong; methods other than GET and POST get 405.
Idle connections are closed after --idle-timeout-seconds.
"""

import base64
import dataclasses
import errno
import json
import logging
import math
import os
import re
import threading
import time
from http import server as http_server
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf
from google.protobuf import message as proto_message
from tensorflow.core.framework import types_pb2

from cdnrec.core.errors import ConfigError
from cdnrec.serving import batching as batching_lib
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


@dataclasses.dataclass
class _Failure:
  """A version that failed to load: when to try it again."""
  fingerprint: Tuple
  retry_at: float
  delay: float


def _fingerprint(path: str) -> Tuple:
  """(file, size, mtime) of every file under path: changes while a version
  is still being copied in, or when it is replaced."""
  out = []
  for directory, _, files in tf.io.gfile.walk(path):
    for name in files:
      full = os.path.join(directory, name)
      try:
        stat = tf.io.gfile.stat(full)
      except tf.errors.NotFoundError:
        continue
      out.append((full, stat.length, stat.mtime_nsec))
  return tuple(sorted(out))


class ModelHolder:
  """The version being served: the newest one that loads.

  Raises ConfigError at construction when no version under model_dir loads
  (naming each and why).
  """

  def __init__(self, model_dir: str,
               load: Callable[[str], serving_model.RetrievalModel] = (
                   serving_model.RetrievalModel),
               clock: Callable[[], float] = time.monotonic,
               retry_first_seconds: float = defaults.RETRY_FIRST_SECONDS,
               retry_max_seconds: float = defaults.RETRY_MAX_SECONDS):
    self.model_dir = model_dir
    self._load = load
    self._clock = clock
    self._retry_first = retry_first_seconds
    self._retry_max = retry_max_seconds
    self._lock = threading.Lock()
    self._failed: Dict[int, _Failure] = {}
    self._errors: Dict[int, str] = {}
    self._reported_gone: Optional[int] = None
    if tf.io.gfile.exists(os.path.join(model_dir, "saved_model.pb")):
      # One SavedModel, not TF Serving's layout: served as version 0.
      self._current = load(model_dir)
      return
    if not tf.io.gfile.isdir(model_dir):
      raise ConfigError(f"--model-dir {model_dir}: no such folder")
    found = serving_model.versions(model_dir)
    for version in reversed(found):
      loaded = self._try(version)
      if loaded is not None:
        self._current = loaded
        return
    tried = "; ".join(f"{v}: {self._errors[v]}" for v in reversed(found))
    raise ConfigError(f"--model-dir {model_dir}: no version loads"
                      + (f" ({tried})" if tried else
                         " (no numeric version folders)"))

  @property
  def current(self) -> serving_model.RetrievalModel:
    with self._lock:
      return self._current

  def _try(self, version: int) -> Optional[serving_model.RetrievalModel]:
    """The loaded version, or None after noting the failure."""
    path = os.path.join(self.model_dir, str(version))
    # Taken before loading: a copy that completes during the load changes
    # it, so the next poll tries again at once.
    fingerprint = _fingerprint(path)
    try:
      return self._load(path)
    except Exception as e:  # pylint: disable=broad-except
      # A broken or half-copied version must not take down the one being
      # served: it is logged and tried again later.
      previous = self._failed.get(version)
      delay = (self._retry_first if previous is None
               else min(self._retry_max, previous.delay * 2))
      self._failed[version] = _Failure(fingerprint, self._clock() + delay,
                                       delay)
      reason = str(e).strip().splitlines()[0] if str(e).strip() else (
          type(e).__name__)
      self._errors[version] = reason
      _log.error("version %d failed to load (%s); trying again when its "
                 "folder changes or in %.0f s", version, reason, delay)
      return None

  def _due(self, version: int) -> bool:
    failure = self._failed.get(version)
    if failure is None:
      return True
    if self._clock() >= failure.retry_at:
      return True
    path = os.path.join(self.model_dir, str(version))
    return _fingerprint(path) != failure.fingerprint

  def refresh(self) -> bool:
    """Serves the newest loadable version newer than the served one (or, if
    the served one was deleted, the newest loadable one left); True when it
    swapped."""
    current = self.current
    available = serving_model.versions(self.model_dir)
    gone = current.version not in available and tf.io.gfile.isdir(
        self.model_dir) and not tf.io.gfile.exists(
            os.path.join(self.model_dir, "saved_model.pb"))
    for version in reversed(available):
      if version <= current.version and not gone:
        break
      if not self._due(version):
        continue
      loaded = self._try(version)
      if loaded is None:
        continue
      self._failed.pop(version, None)
      with self._lock:
        self._current = loaded
      _log.info("now serving version %d (was %d%s)", version,
                current.version, ", deleted from disk" if gone else "")
      return True
    if gone and self._reported_gone != current.version:
      self._reported_gone = current.version
      _log.warning("version %d was deleted from %s and no other version "
                   "loads; still serving it from memory", current.version,
                   self.model_dir)
    return False


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
    if name == "examples":
      for i, serialized in enumerate(out):
        try:
          tf.train.Example.FromString(serialized if isinstance(
              serialized, bytes) else serialized.encode())
        except proto_message.DecodeError as e:
          raise BadRequest(f"input 'examples' row {i}: not a serialized "
                           f"tf.Example ({e})")
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


def run_signature(model: serving_model.RetrievalModel, signature_name: str,
                  inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  """One model call: input arrays in, output arrays out."""
  specs = model.input_specs(signature_name)
  outputs = model.signatures[signature_name](**{
      name: tf.constant(value, specs[name].dtype)
      for name, value in inputs.items()})
  return {name: tensor.numpy() for name, tensor in outputs.items()}


def predict(model: serving_model.RetrievalModel, body: Any,
            max_batch: int = defaults.MAX_BATCH,
            run: Callable = run_signature) -> Dict[str, Any]:
  """Answers one predict body (already JSON-decoded); raises BadRequest.
  run: how the signature is called (run_signature, or a batching.Batcher
  around it)."""
  if not isinstance(body, dict):
    raise BadRequest("the body must be a JSON object")
  signature_name = body.get("signature_name") or "serving_default"
  if not isinstance(signature_name, str):
    raise BadRequest(f"signature_name must be a string, got "
                     f"{json.dumps(signature_name)[:80]}")
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
    outputs = run(model, signature_name, tensors)
  except (tf.errors.InvalidArgumentError, ValueError) as e:
    raise BadRequest(f"the model rejected the inputs: {_reason(e)}")
  arrays = {}
  for name, value in outputs.items():
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


def _reason(error: Exception) -> str:
  """The informative line of a TF error ("Graph execution error:" is only
  its first)."""
  lines = [line.strip() for line in getattr(error, "message",
                                            str(error)).splitlines()]
  useful = [line for line in lines if line and not line.startswith((
      "Graph execution error", "Detected at node", "File ", "[[", "Stack"))]
  return (useful[0] if useful else lines[0] if lines else
          type(error).__name__)[:300]


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
                                        self.server.max_batch,
                                        self.server.run_signature))
      raise NotFound(f"{method} {self.path} is not supported")
    except BadRequest as e:
      self._reply(400, {"error": str(e)})
    except NotFound as e:
      if method == "POST":
        # The body was not read: left on the connection, it would be
        # taken for the next request.
        self.close_connection = True
      self._reply(404, {"error": str(e)})
    except TimeoutError:
      # The client stopped sending mid-body: nothing to answer.
      self.close_connection = True
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

  def __init__(self, holder: ModelHolder, model_name: str, host: str,
               port: int, max_body_bytes: int = defaults.MAX_BODY_BYTES,
               max_batch: int = defaults.MAX_BATCH,
               poll_seconds: float = defaults.POLL_SECONDS,
               idle_timeout: float = defaults.IDLE_TIMEOUT_SECONDS,
               batching: Optional[batching_lib.BatchingConfig] = None):
    # Set before binding: a failed bind calls server_close.
    self._stop = threading.Event()
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
    # Concurrent requests share model calls when batching is on.
    self._batcher = (batching_lib.Batcher(run_signature, batching)
                     if batching else None)
    self.run_signature = self._batcher or run_signature
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
    if getattr(self, "_batcher", None):
      self._batcher.close()


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
