"""`cdnrec serve` put together: one model holder (warm-up records replayed
before each version serves), the REST server, and the gRPC server when a
port is given, sharing the batcher and the metrics."""

import functools
import os
from typing import Optional

from cdnrec.serving import defaults
from cdnrec.serving import grpc_server
from cdnrec.serving import holder as holder_lib
from cdnrec.serving import metrics as metrics_lib
from cdnrec.serving import model as serving_model
from cdnrec.serving import server as rest_server
from cdnrec.serving import warmup


def serve(model_dir: str, model_name: Optional[str] = None,
          host: str = "127.0.0.1", port: int = defaults.PORT,
          grpc_port: Optional[int] = None, warm_up: bool = True,
          **options) -> None:
  """Blocks, serving until interrupted. options: RetrievalServer's."""
  name = model_name or os.path.basename(os.path.normpath(model_dir))
  metrics = metrics_lib.ServingMetrics(name)
  holder = holder_lib.ModelHolder(model_dir, load=(
      functools.partial(warmup.load_warmed, on_warmup=metrics.record_warmup)
      if warm_up else serving_model.RetrievalModel))
  rest = rest_server.RetrievalServer(holder, name, host, port,
                                     metrics=metrics, **options)
  grpc = None
  try:
    if grpc_port is not None:
      grpc, bound = grpc_server.start(
          holder, name, host, grpc_port, run=rest.run_signature,
          metrics=metrics, max_batch=rest.max_batch,
          max_message_bytes=rest.max_body_bytes)
    print(f"[cdnrec] serving {name} version {holder.current.version} from "
          f"{model_dir} on http://{host}:{rest.server_address[1]}"
          f"/v1/models/{name}"
          + (f" and grpc://{host}:{bound}" if grpc else ""), flush=True)
    rest.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    if grpc:
      # Calls in flight finish before the batcher they share is closed.
      grpc.stop(grace=1).wait()
    rest.server_close()
