"""`cdnrec serve`: TF Serving's REST API (and, with --grpc-port, its gRPC
API) over the versions the pipeline pushes, switching to each new version
as it appears."""

import argparse

from cdnrec.serving import defaults


def add_parser(sub, name: str) -> None:
  parser = sub.add_parser(name, help="answer TF Serving REST queries from a "
                          "pushed model folder")
  parser.add_argument("--model-dir", required=True,
                      help="TF Serving's model_base_path: numbered versions")
  parser.add_argument("--model-name", default=None,
                      help="name in the URLs (default: the folder's name)")
  parser.add_argument("--host", default="127.0.0.1",
                      help="address to bind; 0.0.0.0 exposes it to the "
                           "network")
  parser.add_argument("--port", type=int, default=defaults.PORT,
                      help="the REST port (TF Serving's --rest_api_port)")
  parser.add_argument("--grpc-port", type=int, default=None,
                      help="also answer TF Serving's gRPC API on this port "
                           f"(TF Serving's --port, {defaults.GRPC_PORT})")
  parser.add_argument("--poll-seconds", type=float,
                      default=defaults.POLL_SECONDS,
                      help="how often to look for a newer version")
  parser.add_argument("--max-body-bytes", type=int,
                      default=defaults.MAX_BODY_BYTES)
  parser.add_argument("--max-batch", type=int, default=defaults.MAX_BATCH,
                      help="most queries in one request")
  parser.add_argument("--batching", action="store_true",
                      help="answer concurrent requests from one model call "
                           "(TF Serving's --enable_batching)")
  parser.add_argument("--max-batch-size", type=int,
                      default=defaults.BATCHING_MAX_BATCH_SIZE,
                      help="with --batching: queries in one model call")
  parser.add_argument("--batch-timeout-micros", type=int,
                      default=defaults.BATCHING_TIMEOUT_MICROS,
                      help="with --batching: how long a batch waits to fill")
  parser.add_argument("--num-batch-threads", type=int,
                      default=defaults.BATCHING_THREADS,
                      help="with --batching: batches run at once")
  parser.add_argument("--no-warmup", action="store_true",
                      help="serve a version without replaying its "
                           "assets.extra/tf_serving_warmup_requests (TF "
                           "Serving's --enable_model_warmup=false)")
  parser.add_argument("--idle-timeout-seconds", type=float,
                      default=defaults.IDLE_TIMEOUT_SECONDS,
                      help="close a connection idle this long")


def main(args: argparse.Namespace) -> int:
  import logging
  from cdnrec.serving import app
  from cdnrec.serving import batching
  config = None
  if args.batching:
    config = batching.BatchingConfig(args.max_batch_size,
                                     args.batch_timeout_micros,
                                     args.num_batch_threads)
    config.validate()
  # Version swaps, load failures and deletions go to stderr.
  logging.basicConfig(level=logging.INFO,
                      format="[cdnrec serve] %(asctime)s %(levelname)s "
                             "%(message)s")
  app.serve(args.model_dir, args.model_name, args.host, args.port,
            grpc_port=args.grpc_port, warm_up=not args.no_warmup,
            poll_seconds=args.poll_seconds,
            max_body_bytes=args.max_body_bytes, max_batch=args.max_batch,
            idle_timeout=args.idle_timeout_seconds, batching=config)
  return 0
