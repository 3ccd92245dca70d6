"""Warm-up records: TF Serving's `assets.extra/tf_serving_warmup_requests`.

The Trainer writes a few PredictionLogs per signature into each exported
SavedModel, built from real training examples; TF Serving replays them
before a version serves (--enable_model_warmup, on by default), and so
does `cdnrec serve` (`load_warmed`), so the first user's request does not
pay for the model's first call. As in TF Serving, a version whose records
cannot be replayed does not load, and at most 1,000 records are read.
"""

import os
import time
from typing import Callable, Iterable, List, Optional, Sequence

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from cdnrec.core import features as F
from cdnrec.serving import model as serving_model
from cdnrec.serving import predict as predict_lib

RELATIVE_PATH = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_RECORDS = 1000  # TF Serving's WarmupConsts::kMaxNumRecords
# Each signature is warmed with one single-query request and one request of
# this many queries (or as many as the examples given).
BATCH_ROWS = 8
EXAMPLE_SIGNATURES = ("serving_default", "embed_examples")
FEATURE_SIGNATURES = ("serve_features", "embed_users")


def path(export_dir: str) -> str:
  return os.path.join(export_dir, RELATIVE_PATH)


def _request(signature: str, inputs: dict) -> prediction_log_pb2.PredictionLog:
  request = predict_pb2.PredictRequest()
  request.model_spec.signature_name = signature
  for name, value in inputs.items():
    request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
  return prediction_log_pb2.PredictionLog(
      predict_log=prediction_log_pb2.PredictLog(request=request))


def _feature_columns(examples: Sequence[bytes],
                     user_features: Sequence[F.Feature]) -> dict:
  """serve_features' inputs for these examples: the user id, each user
  feature's token (lists joined by spaces) or number (NaN if absent)."""
  columns = {F.USER_ID: []}
  columns.update({f.name: [] for f in user_features})
  kinds = {f.name: f.kind for f in user_features}
  for serialized in examples:
    feature = tf.train.Example.FromString(serialized).features.feature
    for name in columns:
      if kinds.get(name) == F.Kind.NUMERIC:
        values = feature[name].float_list.value if name in feature else []
        columns[name].append(values[0] if values else np.nan)
      else:
        values = feature[name].bytes_list.value if name in feature else []
        columns[name].append(b" ".join(values))
  return {name: (np.array(values, np.float32) if kinds.get(name) ==
                 F.Kind.NUMERIC else np.array(values, dtype=object))
          for name, values in columns.items()}


def build(examples: Sequence[bytes], user_features: Sequence[F.Feature]
          ) -> List[prediction_log_pb2.PredictionLog]:
  """Warm-up requests for every signature from serialized training
  examples (at least one)."""
  if not examples:
    raise ValueError("warm-up records need at least one example")
  logs = []
  for rows in sorted({1, min(BATCH_ROWS, len(examples))}):
    chosen = list(examples[:rows])
    for signature in EXAMPLE_SIGNATURES:
      logs.append(_request(signature, {
          "examples": np.array(chosen, dtype=object)}))
    columns = _feature_columns(chosen, user_features)
    for signature in FEATURE_SIGNATURES:
      logs.append(_request(signature, columns))
  return logs


def write(export_dir: str,
          logs: Iterable[prediction_log_pb2.PredictionLog]) -> str:
  """Writes the records into a SavedModel folder; returns the file."""
  out = path(export_dir)
  tf.io.gfile.makedirs(os.path.dirname(out))
  with tf.io.TFRecordWriter(out) as writer:
    for log in logs:
      writer.write(log.SerializeToString())
  return out


def read(export_dir: str) -> List[predict_pb2.PredictRequest]:
  """The predict requests of a SavedModel's warm-up file ([] if none);
  ValueError past MAX_RECORDS or on a record that is not a predict log."""
  source = path(export_dir)
  if not tf.io.gfile.exists(source):
    return []
  requests = []
  for i, record in enumerate(tf.data.TFRecordDataset(source)):
    if i >= MAX_RECORDS:
      raise ValueError(f"{source}: more than {MAX_RECORDS} warm-up records "
                       "(TF Serving refuses to load it)")
    log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
    if log.WhichOneof("log_type") != "predict_log":
      raise ValueError(f"{source}: record {i} is a "
                       f"{log.WhichOneof('log_type')}, not a predict_log")
    requests.append(log.predict_log.request)
  return requests


def replay(model: serving_model.RetrievalModel) -> int:
  """Runs every warm-up request through the model; the number run."""
  requests = read(model.path)
  for i, request in enumerate(requests):
    inputs = {name: tf.make_ndarray(proto)
              for name, proto in request.inputs.items()}
    try:
      predict_lib.predict_arrays(model, request.model_spec.signature_name,
                                 inputs)
    except predict_lib.BadRequest as e:
      raise ValueError(f"{path(model.path)}: warm-up record {i} failed: "
                       f"{e}") from None
  return len(requests)


def load_warmed(model_dir: str,
                on_warmup: Optional[Callable[[str, bool, float], None]] = None
                ) -> serving_model.RetrievalModel:
  """Loads a version and replays its warm-up records before it serves.
  on_warmup(model path, succeeded, seconds) is told how the replay went."""
  model = serving_model.RetrievalModel(model_dir)
  started = time.perf_counter()
  try:
    replay(model)
  except Exception:
    if on_warmup:
      on_warmup(model.path, False, time.perf_counter() - started)
    raise
  if on_warmup:
    on_warmup(model.path, True, time.perf_counter() - started)
  return model


def first_examples(patterns: Sequence[str], n: int) -> List[bytes]:
  """The first n serialized examples of GZIP TFRecord files."""
  files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
  out: List[bytes] = []
  for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
    out.append(record.numpy())
    if len(out) >= n:
      break
  return out

