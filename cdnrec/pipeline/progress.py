"""Prints one line when each pipeline component starts and ends.

TFX's LocalDagRunner reports component start/end through absl logging at
INFO level, together with thousands of lines of Beam and TF detail. This
handler keeps those two messages and turns them into short progress lines
with durations; other INFO records are dropped, warnings and errors still
reach the console.
"""

import contextlib
import logging
import re
import sys
import time
from typing import Dict, Iterator, Optional, TextIO

from absl import logging as absl_logging

_PATTERN = re.compile(r"^Component (\S+) is (running|finished)\.$")

# Warnings TFX and Keras print on every healthy run, each explained:
_KNOWN_NOISE = (
    # LocalDagRunner's input resolution on SQLite ignores a filter it never
    # needs for these pipelines.
    re.compile(r"ArtifactQuery\.property_predicate is not supported"),
    # tf.saved_model.save of subclassed Keras models without get_config; the
    # SavedModel holds the traced functions, which is all serving uses.
    re.compile(r"contain non-serializable objects"),
)


class _DropKnownNoise(logging.Filter):

  def filter(self, record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not any(p.search(message) for p in _KNOWN_NOISE)


class ComponentProgress(logging.Handler):

  def __init__(self, stream: TextIO = sys.stdout):
    super().__init__(level=logging.INFO)
    self._stream = stream
    self._started: Dict[str, float] = {}

  def emit(self, record: logging.LogRecord) -> None:
    match = _PATTERN.match(record.getMessage())
    if not match:
      return
    name, state = match.groups()
    now = time.time()
    if state == "running":
      self._started[name] = now
      print(f"[cdnrec] > {name} started", file=self._stream, flush=True)
    else:
      took = now - self._started.get(name, now)
      print(f"[cdnrec] < {name} finished in {took:.1f}s", file=self._stream,
            flush=True)


@contextlib.contextmanager
def component_progress(stream: Optional[TextIO] = None) -> Iterator[None]:
  stream = stream or sys.stdout  # the current one: callers may redirect it
  absl_logger = logging.getLogger("absl")
  previous_level = absl_logger.level
  quiet = []
  noise = _DropKnownNoise()
  handlers = (logging.getLogger().handlers + absl_logger.handlers +
              logging.getLogger("tensorflow").handlers)
  for handler in handlers:
    quiet.append((handler, handler.level))
    handler.setLevel(max(handler.level, logging.WARNING))
    handler.addFilter(noise)
  progress = ComponentProgress(stream)
  # The project's own loggers ("cdnrec.*") report at INFO.
  ours = logging.getLogger("cdnrec")
  our_handler = logging.StreamHandler(stream)
  our_handler.setFormatter(logging.Formatter("[cdnrec]   %(message)s"))
  ours.addHandler(our_handler)
  previous_ours = ours.level, ours.propagate
  ours.setLevel(logging.INFO)
  ours.propagate = False  # or warnings print twice, here and at the root
  absl_logging.set_verbosity(absl_logging.INFO)
  absl_logger.addHandler(progress)
  try:
    yield
  finally:
    absl_logger.removeHandler(progress)
    ours.removeHandler(our_handler)
    ours.setLevel(previous_ours[0])
    ours.propagate = previous_ours[1]
    absl_logger.setLevel(previous_level)
    for handler, level in quiet:
      handler.setLevel(level)
      handler.removeFilter(noise)
