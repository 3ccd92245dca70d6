"""ItemStatsGen's executor on a train split whose statistics are derived by
hand in the comments."""

import glob
import hashlib
import os

import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from cdnrec.components import local
from cdnrec.core import artifacts
from cdnrec.core import example_io
from cdnrec.core import item_stats as item_stats_lib

# Train frequencies: a:6, b:3, c:3, d:2, e:1, f:0 (f is only in the catalog).
FREQUENCIES = {"a": 6, "b": 3, "c": 3, "d": 2, "e": 1, "f": 0}
INDEX = {item: i for i, item in enumerate("abcdef")}


def _write_inputs(root, train_files=1):
  examples = standard_artifacts.Examples()
  examples.uri = os.path.join(root, "examples")
  catalog = artifacts.ItemCatalog()
  catalog.uri = os.path.join(root, "catalog")
  split = example_io.split_dir(examples.uri, "train")
  os.makedirs(split)
  os.makedirs(catalog.uri)
  options = tf.io.TFRecordOptions(compression_type="GZIP")
  writers = [tf.io.TFRecordWriter(os.path.join(split, f"data_tfrecord-{k}.gz"),
                                  options) for k in range(train_files)]
  n = 0
  for item, count in FREQUENCIES.items():
    for u in range(count):
      writers[n % train_files].write(example_io.interaction_example(
          f"u{u}", item, 1.0 + u, INDEX[item], {}, {}))
      n += 1
  for w in writers:
    w.close()
  # Held out: eval u0 -> f; test u0 -> c, u1 -> a, u2 -> f.
  for split, pairs in (("eval", [("u0", "f")]),
                       ("test", [("u0", "c"), ("u1", "a"), ("u2", "f")])):
    os.makedirs(example_io.split_dir(examples.uri, split))
    with tf.io.TFRecordWriter(os.path.join(
        example_io.split_dir(examples.uri, split), "data_tfrecord-0.gz"),
                              options) as w:
      for user, item in pairs:
        w.write(example_io.interaction_example(user, item, 99.0,
                                               INDEX[item], {}, {}))
  with tf.io.TFRecordWriter(os.path.join(catalog.uri, artifacts.CATALOG_FILE),
                            options) as w:
    for item in "abcdef":
      w.write(example_io.catalog_example(item, INDEX[item], {}))
  return examples, catalog


def _run(tmp_path, head_fraction=0.34, seed=0, train_files=1,
         beam_args=local.IN_MEMORY_BEAM_ARGS):
  examples, catalog = _write_inputs(str(tmp_path / "in"), train_files)
  stats, rebalanced = local.run_item_stats(
      local.DataArtifacts(str(tmp_path / "out")), head_fraction, seed=seed,
      beam_args=beam_args, examples_uri=examples.uri,
      item_catalog_uri=catalog.uri)
  omega_r = []
  for record in tf.data.TFRecordDataset(
      glob.glob(example_io.split_pattern(rebalanced.uri, "train")),
      compression_type="GZIP"):
    item, _, user = example_io.read_id_and_index(record.numpy())
    omega_r.append((item, user))
  return stats, rebalanced, omega_r


@pytest.fixture(scope="module")
def seed_0(tmp_path_factory):
  """One run at seed 0, shared by the tests that read it."""
  return _run(tmp_path_factory.mktemp("seed_0"))


def test_frequencies_head_tail_and_imbalance(seed_0):
  stats, rebalanced, _ = seed_0
  rows = item_stats_lib.load_item_rows(stats.uri)
  assert [(r.item_id, r.frequency) for r in rows] == list(FREQUENCIES.items())
  # 6 items * 0.34 = 2.04 -> 2 head items: a (6), then b and c tie at 3 and
  # b has the lower item index.
  assert [r.item_id for r in rows if r.is_head] == ["a", "b"]
  summary = item_stats_lib.load_summary(stats.uri)
  assert summary.n_items == 6 and summary.n_items_in_train == 5
  assert (summary.n_head, summary.n_tail) == (2, 4)
  assert summary.imbalance_factor == 6.0  # 6 / 1, f (0) is not counted
  assert summary.n_train_interactions == 15
  assert (summary.head_interactions, summary.tail_interactions) == (9, 6)
  assert stats.get_float_custom_property("imbalance_factor") == 6.0
  # Table 7 rows: users u0-u5 (a has six raters), 15 + 1 + 3 interactions,
  # test items c (tail), a (head), f (tail).
  assert (summary.n_users, summary.n_interactions) == (6, 19)
  assert summary.sparsity == pytest.approx(1 - 19 / (6 * 6))
  assert (summary.test_head, summary.test_tail) == (1, 2)
  assert rebalanced.split_names == '["train"]'


def test_omega_r_keeps_tail_and_caps_head_at_top_tail_count(seed_0):
  stats, _, omega_r = seed_0
  counts = {item: sum(1 for i, _ in omega_r if i == item) for item in "abcde"}
  # The most popular tail item, c, has 3: a is cut from 6 to 3, b already
  # has 3, tail items keep all.
  assert counts == {"a": 3, "b": 3, "c": 3, "d": 2, "e": 1}
  assert item_stats_lib.load_summary(stats.uri).rebalanced_size == 12
  assert item_stats_lib.load_summary(stats.uri).rebalance_cap == 3
  # The Trainer takes Ω_r's frequencies from this formula instead of
  # reading Ω_r again.
  from cdnrec.models.modules import sampling
  assert {i: n for i, n in sampling.rebalanced_frequencies(
      FREQUENCIES, 3).items() if n} == counts
  # Which 3 of a's users: the smallest sha256("seed|user|item") digests.
  digest = lambda u: hashlib.sha256(f"0|{u}|a".encode()).digest()
  expected = sorted((f"u{u}" for u in range(6)), key=digest)[:3]
  assert sorted(u for i, u in omega_r if i == "a") == sorted(expected)


@pytest.mark.slow
def test_omega_r_sample_depends_on_seed(tmp_path):
  a_users = []
  for seed in (0, 1, 2):
    _, _, omega_r = _run(tmp_path / f"s{seed}", seed=seed)
    a_users.append(sorted(u for i, u in omega_r if i == "a"))
  assert len({tuple(u) for u in a_users}) > 1


@pytest.mark.slow
def test_omega_r_is_the_same_over_shards_and_worker_processes(tmp_path,
                                                              seed_0):
  """Three train files under two worker processes: every digest, plan and
  candidate is pickled between processes, as on a distributed runner."""
  stats, rebalanced, omega_r = _run(
      tmp_path, train_files=3,
      beam_args=["--direct_running_mode=multi_processing",
                 "--direct_num_workers=2"])
  one_file_stats, _, one_file_omega_r = seed_0
  assert sorted(omega_r) == sorted(one_file_omega_r)
  assert (item_stats_lib.load_summary(stats.uri) ==
          item_stats_lib.load_summary(one_file_stats.uri))
  # One Ω_r shard per train file.
  assert len(glob.glob(example_io.split_pattern(rebalanced.uri,
                                                "train"))) == 3


def test_bad_head_fraction_is_refused():
  from cdnrec.components.item_stats import ItemStatsGen
  from tfx.types import channel
  with pytest.raises(ValueError, match="head_fraction must be in"):
    ItemStatsGen(examples=channel.Channel(type=standard_artifacts.Examples),
                 item_catalog=channel.Channel(type=artifacts.ItemCatalog),
                 head_fraction=1.5)
