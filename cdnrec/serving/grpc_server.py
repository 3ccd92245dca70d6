"""TF Serving's gRPC API over the model a holder serves (`cdnrec serve
--grpc-port`), with the official protos and stubs of
tensorflow-serving-api:

  PredictionService/Predict            one or more queries per request
  PredictionService/GetModelMetadata   metadata_field "signature_def"
  ModelService/GetModelStatus          the served version

Answers equal the REST server's for the same inputs: both call
predict.predict_arrays, share the batcher when batching is on, and count
into the same metrics. Errors carry the reason with TF Serving's codes:
INVALID_ARGUMENT for bad inputs and version labels, NOT_FOUND for another
model or version.
Classify, Regress and MultiInference answer UNIMPLEMENTED (the model has
only predict signatures). Predict returns the model's top k items; TF
Serving's protocol has no field to ask for fewer.
"""

import concurrent.futures
import logging
import time
from typing import Optional

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from cdnrec.core.errors import ConfigError
from cdnrec.serving import defaults
from cdnrec.serving import holder as holder_lib
from cdnrec.serving import metrics as metrics_lib
from cdnrec.serving import predict as predict_lib
from cdnrec.serving.predict import BadRequest, NotFound

_log = logging.getLogger("cdnrec.serve")
_CODES = {BadRequest: grpc.StatusCode.INVALID_ARGUMENT,
          NotFound: grpc.StatusCode.NOT_FOUND}


def _check_size(name: str, proto, max_batch: int) -> None:
  """BadRequest unless the TensorProto is one value per query, at most
  max_batch of them: checked before decoding, which would allocate the
  size its shape claims."""
  dims = [d.size for d in proto.tensor_shape.dim]
  if proto.tensor_shape.unknown_rank or len(dims) != 1:
    raise BadRequest(f"input {name!r} has shape {dims}; every input is one "
                     "value per query (a 1-D tensor)")
  if dims[0] > max_batch:
    raise BadRequest(f"{dims[0]} queries in one request; at most {max_batch}")
  if dims[0] < 1:
    raise BadRequest(f"input {name!r} has no values")


class _Service(prediction_service_pb2_grpc.PredictionServiceServicer,
               model_service_pb2_grpc.ModelServiceServicer):
  """Both services over one holder."""

  def __init__(self, holder: holder_lib.ModelHolder, model_name: str,
               run: predict_lib.RunFn, metrics: metrics_lib.ServingMetrics,
               max_batch: int):
    self._holder = holder
    self._name = model_name
    self._run = run
    self._metrics = metrics
    self._max_batch = max_batch

  def _model(self, spec):
    version = spec.version.value if spec.HasField("version") else None
    if spec.version_label:
      # TF Serving answers an unknown label with INVALID_ARGUMENT.
      raise BadRequest(f"Unrecognized servable version label: "
                       f"{spec.version_label!r} (this server serves the "
                       "newest version only; ask without a label)")
    return predict_lib.find_model(self._holder.current, self._name,
                                  spec.name, version)

  def _answer(self, api: str, context, call):
    """call() -> (signature, response); errors become the status code."""
    started = time.perf_counter()
    signature, code = "", "OK"
    try:
      signature, response = call()
      return response
    except (BadRequest, NotFound) as e:
      code = _CODES[type(e)]
      context.abort(code, str(e))  # raises
    except Exception as e:  # pylint: disable=broad-except
      # A server bug: logged with its traceback, answered INTERNAL, and the
      # server keeps running.
      code = grpc.StatusCode.INTERNAL
      _log.exception("internal error answering gRPC %s", api)
      context.abort(code, f"internal error: {e}")
    finally:
      self._metrics.record("GRPC", api, signature,
                           code if isinstance(code, str) else code.name,
                           time.perf_counter() - started)

  def Predict(self, request, context):  # pylint: disable=invalid-name
    def call():
      model = self._model(request.model_spec)
      signature = predict_lib.check_signature(
          model, request.model_spec.signature_name)
      specs = model.input_specs(signature)
      inputs = {}
      for name, proto in request.inputs.items():
        _check_size(name, proto, self._max_batch)
        if name in specs and proto.dtype != specs[name].dtype.as_datatype_enum:
          raise BadRequest(
              f"input {name!r}: expected "
              f"{types_pb2.DataType.Name(specs[name].dtype.as_datatype_enum)},"
              f" got {types_pb2.DataType.Name(proto.dtype)}")
        try:
          inputs[name] = tf.make_ndarray(proto)
        except (TypeError, ValueError) as e:
          raise BadRequest(f"input {name!r}: not a readable TensorProto "
                           f"({e})")
      outputs = predict_lib.predict_arrays(model, signature, inputs,
                                           self._max_batch, self._run)
      wanted = list(request.output_filter) or sorted(outputs)
      unknown = sorted(set(wanted) - set(outputs))
      if unknown:
        raise BadRequest(f"output_filter names unknown outputs {unknown}; "
                         f"the signature returns {sorted(outputs)}")
      response = predict_pb2.PredictResponse()
      response.model_spec.name = self._name
      response.model_spec.version.value = model.version
      response.model_spec.signature_name = signature
      for name in wanted:
        response.outputs[name].CopyFrom(
            tf.make_tensor_proto(np.asarray(outputs[name])))
      return signature, response
    return self._answer("predict", context, call)

  def GetModelMetadata(self, request, context):  # pylint: disable=invalid-name
    def call():
      fields = set(request.metadata_field)
      if fields != {"signature_def"}:
        raise BadRequest(f"metadata_field must be ['signature_def'], got "
                         f"{sorted(fields)}")
      model = self._model(request.model_spec)
      response = get_model_metadata_pb2.GetModelMetadataResponse()
      response.model_spec.name = self._name
      response.model_spec.version.value = model.version
      response.metadata["signature_def"].Pack(
          predict_lib.signature_def_map(model))
      return "", response
    return self._answer("metadata", context, call)

  def GetModelStatus(self, request, context):  # pylint: disable=invalid-name
    def call():
      model = self._model(request.model_spec)
      return "", predict_lib.model_status(model)
    return self._answer("status", context, call)


def start(holder: holder_lib.ModelHolder, model_name: str, host: str,
          port: int, run: predict_lib.RunFn = predict_lib.run_signature,
          metrics: Optional[metrics_lib.ServingMetrics] = None,
          max_batch: int = defaults.MAX_BATCH,
          max_message_bytes: int = defaults.MAX_BODY_BYTES,
          threads: int = defaults.GRPC_THREADS) -> "tuple[grpc.Server, int]":
  """(the started server, its port); ConfigError if it cannot listen."""
  server = grpc.server(
      concurrent.futures.ThreadPoolExecutor(threads,
                                            thread_name_prefix="grpc"),
      options=[("grpc.max_receive_message_length", max_message_bytes),
               ("grpc.so_reuseport", 0)])
  service = _Service(holder, model_name, run,
                     metrics or metrics_lib.ServingMetrics(model_name),
                     max_batch)
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
      service, server)
  model_service_pb2_grpc.add_ModelServiceServicer_to_server(service, server)
  address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
  try:
    bound = server.add_insecure_port(address)
  except RuntimeError as e:
    bound, reason = 0, str(e)
  else:
    reason = "address in use or not available"
  if not bound:
    server.stop(None)
    raise ConfigError(f"cannot listen for gRPC on {address}: {reason} "
                      "(--grpc-port chooses another)")
  server.start()
  return server, bound


# For readers of status answers: the state names TF Serving uses.
AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE
