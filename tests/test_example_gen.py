"""LeaveOneOutExampleGen's executor on hand-written atomic files."""

import glob
import os

import pytest
import tensorflow as tf

from cdnrec.components import local
from cdnrec.core import artifacts
from cdnrec.core import atomic
from cdnrec.core import example_io

INTER = """user_id:token\titem_id:token\trating:float\ttimestamp:float
u1\tm1\t5\t100
u1\tm2\t3\t200
u2\tm2\t4\t150
u1\tm3\t4\t300
u1\tm4\t2\t300
u2\tm1\t1\t50
u2\tm3\t5\t400
u1\tm2\t5\t250
u3\tm1\t4\t10
"""
ITEM = """item_id:token\tgenres:token_seq\tyear:float
m1\tdrama comedy\t1990
m2\tdrama\t
m3\thorror\t2001
m4\t\t1977
m5\twestern\t1960
"""
USER = """user_id:token\tage:token
u1\t25
u2\t31
u3\t40
"""


def _write(directory, name="toy", inter=INTER, item=ITEM, user=USER):
  os.makedirs(directory, exist_ok=True)
  for ext, text in (("inter", inter), ("item", item), ("user", user)):
    if text is not None:
      with open(os.path.join(directory, f"{name}.{ext}"), "w") as f:
        f.write(text)
  return directory


def _run(tmp_path, data_dir, max_bad_rows=1):
  return local.run_example_gen(local.DataArtifacts(str(tmp_path)), data_dir,
                               max_bad_rows=max_bad_rows)[:2]


def _read(pattern):
  out = []
  for record in tf.data.TFRecordDataset(glob.glob(pattern),
                                        compression_type="GZIP"):
    f = tf.train.Example.FromString(record.numpy()).features.feature
    out.append({k: (list(v.bytes_list.value) or list(v.int64_list.value) or
                    list(v.float_list.value)) for k, v in f.items()})
  return out


def _pairs(rows):
  return sorted((r["user_id"][0].decode(), r["item_id"][0].decode())
                for r in rows)


def test_leave_one_out_splits_and_features(tmp_path):
  examples, catalog = _run(tmp_path, _write(str(tmp_path / "data")))
  train = _read(example_io.split_pattern(examples.uri, "train"))
  evals = _read(example_io.split_pattern(examples.uri, "eval"))
  test = _read(example_io.split_pattern(examples.uri, "test"))
  # u1: m1@100, m2@250 (the duplicate at 200 is dropped, the latest kept),
  # m3@300, m4@300. m3 and m4 tie at 300; m3 appears first in the log
  # (line 5 < 6), so it sorts first and m4 is the test item.
  # u2: m1@50, m2@150, m3@400. u3 has one interaction: train only.
  assert _pairs(train) == [("u1", "m1"), ("u1", "m2"), ("u2", "m1"),
                           ("u3", "m1")]
  assert _pairs(evals) == [("u1", "m3"), ("u2", "m2")]
  assert _pairs(test) == [("u1", "m4"), ("u2", "m3")]

  u1_m2 = next(r for r in train if r["user_id"] == [b"u1"] and
               r["item_id"] == [b"m2"])
  assert u1_m2["timestamp"] == [250]
  assert u1_m2["user_age"] == [b"25"]
  assert u1_m2["item_genres"] == [b"drama"]
  # An empty float cell: no value, which parse_example reads as absent.
  assert u1_m2.get("item_year", []) == []
  # First appearance in the log: m1 line 2 -> 0, m2 -> 1, m3 -> 2, m4 -> 3.
  assert u1_m2["item_index"] == [1]

  items = _read(os.path.join(catalog.uri, artifacts.CATALOG_FILE))
  # m5 is never rated: it still is in the catalog, indexed after the rest.
  assert [(r["item_id"][0], r["item_index"][0]) for r in items] == [
      (b"m1", 0), (b"m2", 1), (b"m3", 2), (b"m4", 3), (b"m5", 4)]
  assert examples.split_names == '["train", "eval", "test"]'
  assert os.path.exists(os.path.join(catalog.uri, artifacts.FEATURES_FILE))


def test_unknown_item_is_named_with_its_line(tmp_path):
  data = _write(str(tmp_path / "data"),
                inter=INTER + "u3\tm9\t4\t20\n")
  # max_bad_rows=1 is used up by the duplicate (u1, m2) at line 9.
  with pytest.raises(Exception, match=r"toy\.inter, line 11: field "
                     r"'item_id': item 'm9' is not in the item file"):
    _run(tmp_path, data)


def test_malformed_row_is_named_with_its_line(tmp_path):
  data = _write(str(tmp_path / "data"),
                inter=INTER + "u3\tm2\tfive\t20\n")
  with pytest.raises(Exception, match=r"line 11: field 'rating': expected "
                     r"float, got 'five'"):
    _run(tmp_path, data)


def test_duplicates_fail_unless_tolerated(tmp_path):
  with pytest.raises(atomic.DataFormatError, match=r"duplicate interaction "
                     r"\('u1', 'm2'\), first at line 3"):
    _run(tmp_path, _write(str(tmp_path / "data")), max_bad_rows=0)


def test_bad_header_is_refused_before_any_work(tmp_path):
  data = _write(str(tmp_path / "data"),
                inter="user_id,item_id\nu1,m1\n")
  with pytest.raises(atomic.DataFormatError, match="tab-separated"):
    _run(tmp_path, data)


@pytest.mark.slow
def test_feature_selection_overrides_the_default(tmp_path):
  examples, catalog = _run(tmp_path, _write(str(tmp_path / "data")))
  with open(os.path.join(catalog.uri, artifacts.FEATURES_FILE)) as f:
    assert "item_year" in f.read()
  _, catalog, _ = local.run_example_gen(
      local.DataArtifacts(str(tmp_path / "second")), str(tmp_path / "data"),
      max_bad_rows=1, features={"item": ["genres"], "user": []})
  from cdnrec.core import features as F
  with open(os.path.join(catalog.uri, artifacts.FEATURES_FILE)) as f:
    config = F.FeatureConfig.from_json(f.read())
  assert [f.name for f in config.item_features] == ["item_genres"]
  assert config.user_features == []
  with pytest.raises(atomic.DataFormatError, match=r"item features \['plot'\] "
                     r"are not columns"):
    local.run_example_gen(
        local.DataArtifacts(str(tmp_path / "third")), str(tmp_path / "data"),
        max_bad_rows=1, features={"item": ["plot"]})


def _user_items(rows):
  users = {}
  for r in rows:
    users.setdefault(r["user_id"][0], set()).add(r["item_id"][0])
  return users


def test_statistics_sample_is_everything_for_a_small_log(tmp_path):
  examples, _, sample = local.run_example_gen(
      local.DataArtifacts(str(tmp_path / "out")),
      _write(str(tmp_path / "data")), max_bad_rows=1)
  for split in example_io.SPLITS:
    assert _pairs(_read(example_io.split_pattern(sample.uri, split))) == (
        _pairs(_read(example_io.split_pattern(examples.uri, split))))


def test_statistics_sample_holds_whole_users_about_the_budget(tmp_path):
  lines = ["user_id:token\titem_id:token\ttimestamp:float"]
  lines += [f"u{u}\tm{(u * 7 + k) % 50}\t{k}" for u in range(300)
            for k in range(10)]
  data = _write(str(tmp_path / "data"), inter="\n".join(lines) + "\n",
                item=None, user=None)
  examples, _, sample = local.run_example_gen(
      local.DataArtifacts(str(tmp_path / "out")), data,
      statistics_sample_size=600)
  sampled, everyone = {}, {}
  for split in example_io.SPLITS:
    for users, uri in ((sampled, sample.uri), (everyone, examples.uri)):
      for user, items in _user_items(
          _read(example_io.split_pattern(uri, split))).items():
        users.setdefault(user, set()).update(items)
  # Every sampled user brings all of its interactions, in every split.
  assert all(items == everyone[user] for user, items in sampled.items())
  n = sum(len(items) for items in sampled.values())
  # 600 of 3,000 rows expected: 60 of 300 users, binomial sd about 7.
  assert 300 <= n <= 900
  assert sample.get_int_custom_property("sampled_examples") == n
  assert sample.get_int_custom_property("examples") == 3000


def test_bad_rows_are_summarized_in_bounded_memory():
  # Many bad rows, in any order and split across workers: the count is
  # exact, the shown ones are the first in file order, and no accumulator
  # holds more than the error shows.
  import json
  from cdnrec.components.example_gen import executor
  from cdnrec.data import atomic_columns
  from cdnrec.data import readers
  shown = readers.base.SHOWN_BAD_ROWS
  rows = [atomic_columns.BadRow("a.csv", line,
                                "duplicate interaction" if line % 3 == 0
                                else "rating: expected a number")
          for line in range(100, 0, -1)]
  fn = executor._BadRowSummary()
  parts = []
  for start in range(0, len(rows), 30):
    acc = fn.create_accumulator()
    for row in rows[start:start + 30]:
      acc = fn.add_input(acc, row)
      assert len(acc[2]) <= shown
    parts.append(acc)
  summary = json.loads(fn.extract_output(fn.merge_accumulators(parts)))
  assert summary["count"] == 100
  assert summary["duplicates"] == 33
  assert summary["first"] == [str(atomic_columns.BadRow(
      "a.csv", line, rows[100 - line].reason)) for line in range(1, shown + 1)]
