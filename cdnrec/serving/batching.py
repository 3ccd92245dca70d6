"""Server-side batching with TF Serving's semantics (`--enable_batching`).

Concurrent predict calls of one model version and signature are answered
from one model call. A batch closes when it holds max_batch_size queries or
batch_timeout_micros after its first query arrived, whichever is first;
num_batch_threads batches run at once. A call larger than max_batch_size
runs alone. If a batch fails (one request's inputs rejected by the
model), each of its calls is run alone, so only the bad one fails.
"""

import concurrent.futures
import dataclasses
import threading
import time
from typing import Any, Callable, Dict, List

import numpy as np

from cdnrec.core.errors import ConfigError
from cdnrec.serving import defaults

Outputs = Dict[str, np.ndarray]
# (model, signature name, inputs: name -> [rows, ...] array) -> outputs
RunFn = Callable[[Any, str, Dict[str, np.ndarray]], Outputs]


@dataclasses.dataclass(frozen=True)
class BatchingConfig:
  """TF Serving's batching parameters (its batching_parameters_file)."""
  max_batch_size: int = defaults.BATCHING_MAX_BATCH_SIZE
  batch_timeout_micros: int = defaults.BATCHING_TIMEOUT_MICROS
  num_batch_threads: int = defaults.BATCHING_THREADS

  def validate(self) -> None:
    if self.max_batch_size < 1:
      raise ConfigError(f"max_batch_size must be >= 1, got "
                        f"{self.max_batch_size}")
    if self.batch_timeout_micros < 0:
      raise ConfigError(f"batch_timeout_micros must be >= 0, got "
                        f"{self.batch_timeout_micros}")
    if self.num_batch_threads < 1:
      raise ConfigError(f"num_batch_threads must be >= 1, got "
                        f"{self.num_batch_threads}")


@dataclasses.dataclass
class _Call:
  model: Any
  signature_name: str
  inputs: Dict[str, np.ndarray]
  rows: int
  future: concurrent.futures.Future

  def key(self):
    return id(self.model), self.signature_name


class Batcher:
  """Collects calls into batches on one thread, runs them on a pool."""

  def __init__(self, run: RunFn, config: BatchingConfig = BatchingConfig()):
    config.validate()
    self._run = run
    self._config = config
    self._pending: List[_Call] = []
    self._ready = threading.Condition()
    self._stopped = False
    self._pool = concurrent.futures.ThreadPoolExecutor(
        config.num_batch_threads, thread_name_prefix="batch")
    self._collector = threading.Thread(target=self._collect, daemon=True,
                                       name="batch-collector")
    self._collector.start()
    self.batches_run = 0  # for tests and metrics

  def __call__(self, model, signature_name: str,
               inputs: Dict[str, np.ndarray]) -> Outputs:
    """The outputs of this call's rows, as if run alone."""
    rows = len(next(iter(inputs.values())))
    if rows >= self._config.max_batch_size:
      return self._run(model, signature_name, inputs)
    call = _Call(model, signature_name, inputs, rows,
                 concurrent.futures.Future())
    with self._ready:
      if self._stopped:
        raise RuntimeError("the batcher is stopped")
      self._pending.append(call)
      self._ready.notify()
    return call.future.result()

  def close(self) -> None:
    with self._ready:
      self._stopped = True
      self._ready.notify()
    self._collector.join(timeout=5)
    self._pool.shutdown(wait=True)

  def _take_batch(self) -> List[_Call]:
    """Blocks for the first call, then gathers calls of the same model and
    signature until the batch is full or its timeout has passed."""
    timeout = self._config.batch_timeout_micros / 1e6
    with self._ready:
      while not self._pending and not self._stopped:
        self._ready.wait()
      if not self._pending:
        return []
      first = self._pending[0]
      deadline = time.monotonic() + timeout
      while True:
        batch, rows = [], 0
        for call in self._pending:
          if call.key() == first.key() and (
              rows + call.rows <= self._config.max_batch_size):
            batch.append(call)
            rows += call.rows
        remaining = deadline - time.monotonic()
        if rows >= self._config.max_batch_size or remaining <= 0 or (
            self._stopped):
          break
        self._ready.wait(remaining)
      taken = set(map(id, batch))
      self._pending = [c for c in self._pending if id(c) not in taken]
      return batch

  def _collect(self) -> None:
    while True:
      batch = self._take_batch()
      if not batch:
        return
      self._pool.submit(self._execute, batch)

  def _execute(self, batch: List[_Call]) -> None:
    try:
      self._execute_batch(batch)
    except BaseException as e:  # pylint: disable=broad-except
      # Whatever went wrong, no caller may wait forever.
      for call in batch:
        if not call.future.done():
          call.future.set_exception(e)

  def _execute_batch(self, batch: List[_Call]) -> None:
    self.batches_run += 1
    first = batch[0]
    try:
      if len(batch) == 1:
        first.future.set_result(self._run(first.model, first.signature_name,
                                          first.inputs))
        return
      joined = {name: np.concatenate([c.inputs[name] for c in batch])
                for name in first.inputs}
      outputs = self._run(first.model, first.signature_name, joined)
    except Exception as e:  # pylint: disable=broad-except
      if len(batch) == 1:
        first.future.set_exception(e)
        return
      # One call's rows spoiled the batch: each runs alone, and only the
      # bad one gets the error.
      for call in batch:
        try:
          call.future.set_result(self._run(call.model, call.signature_name,
                                           call.inputs))
        except Exception as e:  # pylint: disable=broad-except
          call.future.set_exception(e)
      return
    start = 0
    for call in batch:
      call.future.set_result({name: value[start:start + call.rows]
                              for name, value in outputs.items()})
      start += call.rows
