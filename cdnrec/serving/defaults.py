"""Defaults of `cdnrec serve`, importable without TensorFlow (the CLI's
help and flag checks stay fast)."""

PORT = 8501  # TF Serving's REST port
GRPC_PORT = 8500  # TF Serving's gRPC port (cdnrec serve --grpc-port)
GRPC_THREADS = 64  # concurrent gRPC calls
MAX_BODY_BYTES = 1 << 20
MAX_BATCH = 256  # most queries in one request
POLL_SECONDS = 2.0  # how often to look for a newer version
IDLE_TIMEOUT_SECONDS = 30.0  # an idle connection is closed after this
LISTEN_BACKLOG = 128  # connections the kernel queues before accept
# A version that failed to load is tried again when its folder changes, or
# after this delay, doubled after each failure up to the maximum.
RETRY_FIRST_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0
# Server-side batching (off unless --batching), TF Serving's parameters.
BATCHING_MAX_BATCH_SIZE = 32
BATCHING_TIMEOUT_MICROS = 2000
BATCHING_THREADS = 2
