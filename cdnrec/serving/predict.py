"""One predict call, whatever the protocol: which model answers, checking
the inputs against the signature, running it, and the model's status and
metadata as TF Serving's protos.

The REST server (JSON) and the gRPC server (TensorProtos) decode their
requests into arrays and call `predict_arrays`; both answer the errors it
raises with their protocol's code for the same reason (BadRequest: 400 /
INVALID_ARGUMENT, NotFound: 404 / NOT_FOUND).
"""

import math
from typing import Callable, Dict, Optional

import numpy as np
import tensorflow as tf
from google.protobuf import message as proto_message
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2

from cdnrec.serving import defaults
from cdnrec.serving import model as serving_model

Arrays = Dict[str, np.ndarray]
RunFn = Callable[[serving_model.RetrievalModel, str, Arrays], Arrays]
PREDICT_METHOD = "tensorflow/serving/predict"
DEFAULT_SIGNATURE = "serving_default"


class BadRequest(ValueError):
  """A client error: 400 over REST, INVALID_ARGUMENT over gRPC."""


class NotFound(LookupError):
  """No such model or version: 404 over REST, NOT_FOUND over gRPC."""


def find_model(current: serving_model.RetrievalModel, served_name: str,
               name: str, version: Optional[int]
               ) -> serving_model.RetrievalModel:
  """The model a request names, which must be the one being served."""
  if name != served_name:
    raise NotFound(f"Servable not found for request: Latest({name})")
  if version is not None and version != current.version:
    raise NotFound(f"version {version} of {name} is not being served "
                   f"(serving {current.version})")
  return current


def run_signature(model: serving_model.RetrievalModel, signature_name: str,
                  inputs: Arrays) -> Arrays:
  """One model call: input arrays in, output arrays out."""
  specs = model.input_specs(signature_name)
  outputs = model.signatures[signature_name](**{
      name: tf.constant(value, specs[name].dtype)
      for name, value in inputs.items()})
  return {name: tensor.numpy() for name, tensor in outputs.items()}


def check_signature(model: serving_model.RetrievalModel,
                    signature_name: str) -> str:
  name = signature_name or DEFAULT_SIGNATURE
  if name not in model.signatures:
    raise BadRequest(f"unknown signature_name {name!r}; the model has "
                     f"{sorted(model.signatures)}")
  return name


def predict_arrays(model: serving_model.RetrievalModel, signature_name: str,
                   inputs: Arrays, max_batch: int = defaults.MAX_BATCH,
                   run: RunFn = run_signature) -> Arrays:
  """The signature's outputs for these inputs (one row per query).

  Every input is a 1-D array, all of one length from 1 to max_batch;
  a missing string input is sent empty and a missing number as NaN, which
  the model reads as unknown (OOV bucket / training mean). run: how the
  signature is called (run_signature, or a batching.Batcher around it).
  """
  signature_name = check_signature(model, signature_name)
  specs = model.input_specs(signature_name)
  unknown = sorted(set(inputs) - set(specs))
  if unknown:
    raise BadRequest(f"unknown inputs {unknown}; the signature takes "
                     f"{sorted(specs)}")
  if not inputs:
    raise BadRequest(f"no inputs; the signature takes {sorted(specs)}")
  shapes = {name: np.shape(value) for name, value in inputs.items()}
  for name, shape in shapes.items():
    if len(shape) != 1:
      raise BadRequest(f"input {name!r} has shape {list(shape)}; every "
                       "input is one value per query (a 1-D tensor)")
  lengths = {shape[0] for shape in shapes.values()}
  if len(lengths) != 1 or 0 in lengths:
    raise BadRequest("every input must hold one value per query, all of "
                     f"one length (got {sorted(lengths)})")
  n = lengths.pop()
  if n > max_batch:
    raise BadRequest(f"{n} queries in one request; at most {max_batch}")
  arrays = {}
  for name, spec in specs.items():
    if name not in inputs:
      arrays[name] = (np.full(n, math.nan, spec.dtype.as_numpy_dtype)
                      if spec.dtype.is_floating else
                      np.array([b""] * n, dtype=object))
      continue
    value = np.asarray(inputs[name])
    if spec.dtype == tf.string:
      if value.dtype.kind not in ("S", "U", "O"):
        raise BadRequest(f"input {name!r} must be strings, got "
                         f"{value.dtype.name}")
    elif value.dtype.kind not in ("f", "i", "u"):
      got = "strings" if value.dtype.kind in ("S", "U", "O") else (
          value.dtype.name)
      raise BadRequest(f"input {name!r} must be numbers, got {got}")
    arrays[name] = value
  if "examples" in specs:
    for i, serialized in enumerate(arrays["examples"]):
      try:
        tf.train.Example.FromString(serialized if isinstance(
            serialized, bytes) else str(serialized).encode())
      except proto_message.DecodeError as e:
        raise BadRequest(f"input 'examples' row {i}: not a serialized "
                         f"tf.Example ({e})")
  try:
    return run(model, signature_name, arrays)
  except (tf.errors.InvalidArgumentError, ValueError) as e:
    raise BadRequest(f"the model rejected the inputs: {reason(e)}")


def reason(error: Exception) -> str:
  """The informative line of a TF error ("Graph execution error:" is only
  its first)."""
  lines = [line.strip() for line in getattr(error, "message",
                                            str(error)).splitlines()]
  useful = [line for line in lines if line and not line.startswith((
      "Graph execution error", "Detected at node", "File ", "[[", "Stack"))]
  return (useful[0] if useful else lines[0] if lines else
          type(error).__name__)[:300]


def signature_def_map(model: serving_model.RetrievalModel
                      ) -> get_model_metadata_pb2.SignatureDefMap:
  """The model's signatures as GetModelMetadata returns them."""
  out = get_model_metadata_pb2.SignatureDefMap()
  for sig_name, fn in model.signatures.items():
    definition = out.signature_def[sig_name]
    definition.method_name = PREDICT_METHOD
    for group, specs in (
        (definition.inputs, model.input_specs(sig_name)),
        (definition.outputs, fn.structured_outputs)):
      for name, spec in specs.items():
        info = group[name]
        info.name = spec.name or ""
        info.dtype = spec.dtype.as_datatype_enum
        if spec.shape.rank is None:
          info.tensor_shape.unknown_rank = True
        else:
          for d in spec.shape:
            info.tensor_shape.dim.add().size = -1 if d is None else d
  return out


def model_status(model: serving_model.RetrievalModel
                 ) -> get_model_status_pb2.GetModelStatusResponse:
  out = get_model_status_pb2.GetModelStatusResponse()
  status = out.model_version_status.add()
  status.version = model.version
  status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
  status.status.SetInParent()  # error_code OK, as TF Serving answers
  return out

