"""A client of TF Serving's gRPC API (`cdnrec serve --grpc-port` or TF
Serving itself), with the official stubs; addresses look like
grpc://host:port."""

from typing import Any, Dict, List, Optional

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from cdnrec.serving import client

SCHEME = "grpc://"
# The HTTP status a REST server answers for the same reason.
_HTTP_STATUS = {grpc.StatusCode.INVALID_ARGUMENT: 400,
                grpc.StatusCode.NOT_FOUND: 404,
                grpc.StatusCode.UNIMPLEMENTED: 501,
                grpc.StatusCode.INTERNAL: 500,
                grpc.StatusCode.UNAVAILABLE: 0}


class ServerError(client.ServerError):
  """A gRPC error: .code is the status code; .status the HTTP status a
  REST server gives for the same reason (0: unreachable)."""

  def __init__(self, code: grpc.StatusCode, details: str, target: str):
    status = _HTTP_STATUS.get(code, 500)
    super().__init__(status, f"cannot reach {target}: {details}"
                     if status == 0 else details)
    self.args = (f"gRPC {code.name}: {details}" if status else
                 f"cannot reach {target}: {details}",)
    self.code = code


def is_grpc(server: str) -> bool:
  return server.startswith(SCHEME)


class Client:
  """One channel to a server; reuse it for many calls."""

  def __init__(self, server: str, timeout: float = 30.0):
    self.target = server[len(SCHEME):] if is_grpc(server) else server
    self._channel = grpc.insecure_channel(self.target)
    self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(
        self._channel)
    self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)
    self._timeout = timeout

  def close(self) -> None:
    self._channel.close()

  def __enter__(self) -> "Client":
    return self

  def __exit__(self, *exc) -> None:
    self.close()

  def _call(self, method, request):
    try:
      return method(request, timeout=self._timeout)
    except grpc.RpcError as e:
      raise ServerError(e.code(), e.details() or "", self.target) from None

  def status(self, model: str) -> get_model_status_pb2.GetModelStatusResponse:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = model
    return self._call(self._models.GetModelStatus, request)

  def signature_defs(self, model: str
                     ) -> get_model_metadata_pb2.SignatureDefMap:
    request = get_model_metadata_pb2.GetModelMetadataRequest(
        metadata_field=["signature_def"])
    request.model_spec.name = model
    response = self._call(self._predictions.GetModelMetadata, request)
    out = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(out)
    return out

  def input_types(self, model: str,
                  signature_name: str = "serve_features") -> Dict[str, str]:
    """Input name -> TF dtype name ("DT_STRING", "DT_FLOAT")."""
    signature = self.signature_defs(model).signature_def[signature_name]
    return {name: types_pb2.DataType.Name(info.dtype)
            for name, info in signature.inputs.items()}

  def predict_arrays(self, model: str, inputs: Dict[str, np.ndarray],
                     signature_name: str = "serve_features"
                     ) -> Dict[str, np.ndarray]:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature_name
    for name, value in inputs.items():
      request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    response = self._call(self._predictions.Predict, request)
    return {name: tf.make_ndarray(proto)
            for name, proto in response.outputs.items()}

  def predict(self, model: str, instances: List[Dict[str, Any]],
              signature_name: str = "serve_features",
              k: Optional[int] = None,
              types: Optional[Dict[str, str]] = None) -> List[Dict[str, Any]]:
    """As client.predict: one {"item_ids", "scores"} per instance (rows
    trimmed to k here; TF Serving's gRPC request has no k)."""
    types = types or self.input_types(model, signature_name)
    names = sorted({n for row in instances for n in row})
    inputs = {}
    for name in names:
      values = [row.get(name) for row in instances]
      if types.get(name, "DT_STRING") == "DT_FLOAT":
        inputs[name] = np.array([np.nan if v is None else float(v)
                                 for v in values], np.float32)
      else:
        inputs[name] = np.array([b"" if v is None else str(v).encode()
                                 for v in values], dtype=object)
    outputs = self.predict_arrays(model, inputs, signature_name)
    ids, scores = outputs["item_ids"], outputs["scores"]
    return [{"item_ids": [i.decode() for i in ids[row][:k]],
             "scores": scores[row][:k].tolist()}
            for row in range(len(instances))]
