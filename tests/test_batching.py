"""Server-side batching: concurrent calls share model calls, each gets its
own rows back, and a bad call fails alone."""

import concurrent.futures
import threading

import numpy as np
import pytest

from cdnrec.core.errors import ConfigError
from cdnrec.serving import batching


class _Model:
  """Doubles its input; rejects a negative value; records each call."""

  def __init__(self):
    self.calls = []
    self.lock = threading.Lock()

  def run(self, model, signature_name, inputs):
    x = inputs["x"]
    with self.lock:
      self.calls.append((signature_name, len(x)))
    if (x < 0).any():
      raise ValueError("negative input")
    return {"y": x * 2, "signature": np.array([signature_name] * len(x))}


def _concurrently(batcher, calls):
  with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
    futures = [pool.submit(batcher, "m", sig, {"x": x}) for sig, x in calls]
    return [f.exception() or f.result() for f in futures]


def test_concurrent_calls_share_model_calls_and_get_their_own_rows():
  model = _Model()
  batcher = batching.Batcher(model.run, batching.BatchingConfig(
      max_batch_size=64, batch_timeout_micros=200_000, num_batch_threads=1))
  calls = [("a", np.arange(k, k + 3, dtype=np.float32)) for k in range(16)]
  results = _concurrently(batcher, calls)
  batcher.close()
  for (_, x), result in zip(calls, results):
    np.testing.assert_array_equal(result["y"], x * 2)
  assert sum(rows for _, rows in model.calls) == 48
  assert len(model.calls) < 16  # batched: fewer model calls than requests


def test_a_batch_holds_one_signature_and_at_most_max_batch_size_rows():
  model = _Model()
  batcher = batching.Batcher(model.run, batching.BatchingConfig(
      max_batch_size=4, batch_timeout_micros=100_000, num_batch_threads=2))
  calls = [("a" if k % 2 else "b", np.ones(1, np.float32)) for k in range(12)]
  results = _concurrently(batcher, calls)
  batcher.close()
  assert [r["signature"][0] for r in results] == [s for s, _ in calls]
  assert all(rows <= 4 for _, rows in model.calls)


def test_a_bad_call_fails_alone():
  model = _Model()
  batcher = batching.Batcher(model.run, batching.BatchingConfig(
      max_batch_size=64, batch_timeout_micros=200_000))
  calls = [("a", np.array([1.0, 2.0])), ("a", np.array([-1.0])),
           ("a", np.array([3.0]))]
  results = _concurrently(batcher, calls)
  batcher.close()
  assert isinstance(results[1], ValueError)
  np.testing.assert_array_equal(results[0]["y"], [2.0, 4.0])
  np.testing.assert_array_equal(results[2]["y"], [6.0])


def test_a_lone_call_waits_at_most_the_timeout():
  import time
  model = _Model()
  batcher = batching.Batcher(model.run, batching.BatchingConfig(
      max_batch_size=64, batch_timeout_micros=50_000))
  started = time.perf_counter()
  batcher("m", "a", {"x": np.ones(2)})
  assert time.perf_counter() - started < 2  # not waiting for a full batch
  big = batcher("m", "a", {"x": np.ones(100)})  # over the batch size: alone
  assert len(big["y"]) == 100
  batcher.close()


def test_settings_are_checked():
  with pytest.raises(ConfigError, match="max_batch_size must be >= 1"):
    batching.BatchingConfig(max_batch_size=0).validate()


def test_no_caller_waits_forever_when_a_batch_breaks():
  def broken(model, signature_name, inputs):
    return 42  # not outputs: splitting them fails
  batcher = batching.Batcher(broken, batching.BatchingConfig(
      max_batch_size=64, batch_timeout_micros=100_000))
  results = _concurrently(batcher, [("a", np.ones(1)), ("a", np.ones(2))])
  batcher.close()
  assert all(isinstance(r, Exception) for r in results)
