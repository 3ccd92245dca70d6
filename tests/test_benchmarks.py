"""The benchmarks' own logic (their figures are measured on demand, not
here)."""

import pytest
import tensorflow as tf

from cdnrec.bench import profile
from cdnrec.bench import train


def test_profile_sums_op_time_by_type(tmp_path):
  a = tf.random.stateless_normal([256, 256], seed=[1, 2])

  @tf.function
  def step(x):
    return tf.reduce_sum(tf.nn.relu(tf.matmul(x, x)))

  step(a)  # traced outside the profile
  tf.profiler.experimental.start(str(tmp_path))
  for _ in range(5):
    step(a)
  tf.profiler.experimental.stop()
  ops = profile.op_milliseconds(str(tmp_path))
  assert any("MatMul" in op for op in ops), ops
  assert "Process" not in ops  # the executor's enclosing events
  assert all(ms >= 0 for ms in ops.values())
  assert sum(ops.values()) > 0
  with pytest.raises(FileNotFoundError, match="no profile"):
    profile.op_milliseconds(str(tmp_path / "nothing"))


def test_every_model_timed_gets_the_shared_settings():
  models = train.models_to_time(
      ["dropout=0.1", "distribution=default"],
      ['thinned={"cdn_loss": "separate", "regularizer_batch": "thinned"}',
       'plain={"model": "two_tower", "distinct_items": true}'])
  assert models == {
      "two_tower": {"model": "two_tower", "dropout": 0.1,
                    "distribution": "default"},
      "thinned": {"model": "cdn", "dropout": 0.1, "distribution": "default",
                  "cdn_loss": "separate", "regularizer_batch": "thinned"},
      "plain": {"model": "two_tower", "dropout": 0.1,
                "distribution": "default", "distinct_items": True}}
  with pytest.raises(SystemExit, match="must look like"):
    train.models_to_time([], ["two_tower={}"])


def test_scale_reads_sizes_and_fits_the_growth_exponent():
  from cdnrec.bench import scale
  assert [scale.parse_size(s) for s in ("20M", "500K", "1500", "1.5M")] == [
      20_000_000, 500_000, 1500, 1_500_000]
  with pytest.raises(ValueError, match="not a size"):
    scale.parse_size("lots")
  assert scale.exponent([10**6, 4 * 10**6], [10.0, 40.0]) == pytest.approx(1.0)
  assert scale.exponent([10**6, 2 * 10**6, 4 * 10**6],
                        [1.0, 4.0, 16.0]) == pytest.approx(2.0)
  # 20M interactions: 500K users and 1M items, one epoch, no baseline.
  argv = scale.command(20_000_000, "out", [])
  assert argv[argv.index("--users") + 1] == "500000"
  assert argv[argv.index("--items") + 1] == "1000000"
