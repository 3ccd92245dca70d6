"""Defaults of `cdnrec serve`, importable without TensorFlow (the CLI's
help and flag checks stay fast)."""

PORT = 8501  # TF Serving's REST port
MAX_BODY_BYTES = 1 << 20
MAX_BATCH = 256  # most queries in one request
POLL_SECONDS = 2.0  # how often to look for a newer version
