"""interaction_logs: a log read unit by unit is the log read whole; rows
that fail a check are named by file, line and field."""

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.io import filesystem
from apache_beam.io import localfilesystem

from cdnrec.data import interaction_logs as logs
from cdnrec.data import readers


def _write(path, lines, encoding="utf-8"):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding=encoding, newline="") as f:
    f.write("".join(line + "\n" for line in lines))
  return path


def _read_all(log, range_bytes=logs.atomic_columns.RANGE_BYTES):
  units = logs.units(log, range_bytes)
  counts = [logs.count_rows(u, log) for u in units]
  rows, bad = [], []
  for unit in units:
    got = logs.read_unit(log, unit, logs.rows_before(unit, counts))
    rows += list(zip(*(got.rows.column(c).to_pylist()
                       for c in got.rows.column_names)))
    bad += [str(b) for b in got.bad]
  return units, rows, bad


CSV = ["user,item,ts"] + [f"u{k % 7},i{k % 11},{1000 + k}" for k in range(60)]


def test_byte_ranges_read_as_the_whole_file(tmp_path):
  lines = list(CSV)
  lines[17] = "u1,i2"          # a field short
  lines[40] = "u3,,1040"       # an empty item id
  path = _write(str(tmp_path / "log.csv"), lines)
  log = logs.InteractionLog("log", (path,), logs.TEXT, user="user",
                            item="item", timestamp="ts")
  whole_units, whole, whole_bad = _read_all(log)
  units, rows, bad = _read_all(log, range_bytes=64)
  assert len(whole_units) == 1 and len(units) > 10
  assert rows == whole and bad == whole_bad
  assert len(rows) == 58
  assert bad == [
      f"{path}, line 18: expected 3 ','-separated fields (user, item, ts), "
      "got 2",
      f"{path}, line 41: field 'user' or 'item': empty id; expected a user "
      "and an item id"]
  # POSITION is the 1-based line (file 0): the first data row is line 2.
  assert rows[0] == ("u0", "i0", 1000.0, 2)


def test_shards_keep_their_file_in_the_position(tmp_path):
  folder = tmp_path / "shards"
  _write(str(folder / "part-0.csv"), CSV[:31])
  _write(str(folder / "part-1.csv"), CSV[:1] + CSV[31:])
  _write(str(folder / ".hidden.csv"), CSV[:1] + ["x,y,1"])
  paths = logs.expand(str(folder))
  assert [os.path.basename(p) for p in paths] == ["part-0.csv", "part-1.csv"]
  log = logs.InteractionLog("log", paths, logs.TEXT, user="user",
                            item="item", timestamp="ts")
  _, rows, _ = _read_all(log, range_bytes=100)
  assert len(rows) == 60
  assert rows[29][3] == 31 and rows[30][3] == (1 << logs.FILE_SHIFT) + 2
  assert log.describe_position(rows[30][3]) == (paths[1], 2)


class _ObjectStore(localfilesystem.LocalFileSystem):
  """Local files under an `objstore://` scheme, with an object store's
  semantics: a folder is a prefix and not an object (exists() is false)."""
  PREFIX = "objstore://"

  @classmethod
  def scheme(cls):
    return "objstore"

  def _local(self, path):
    return path[len(self.PREFIX):]

  def exists(self, path):
    if not path.startswith(self.PREFIX):  # LocalFileSystem.match's own calls
      return os.path.exists(path)
    return os.path.isfile(self._local(path))

  def match(self, patterns, limits=None):
    found = super().match([self._local(p) for p in patterns], limits)
    return [filesystem.MatchResult(pattern, [filesystem.FileMetadata(
        self.PREFIX + m.path, m.size_in_bytes, m.last_updated_in_seconds)
                                             for m in r.metadata_list])
            for pattern, r in zip(patterns, found)]

  def open(self, path, *args, **kwargs):
    return super().open(self._local(path), *args, **kwargs)


def test_a_remote_folder_is_its_objects(tmp_path):
  folder = tmp_path / "shards"
  _write(str(folder / "part-0.csv"), CSV[:31])
  _write(str(folder / "part-1.csv"), CSV[:1] + CSV[31:])
  _write(str(folder / "_SUCCESS"), [])
  remote = _ObjectStore.PREFIX + str(folder)
  paths = logs.expand(remote)
  assert paths == (remote + "/part-0.csv", remote + "/part-1.csv")
  assert logs.expand(remote + "/part-1.csv") == (remote + "/part-1.csv",)
  assert logs.expand(remote + "/part-*.csv") == paths
  log = logs.InteractionLog("log", paths, logs.TEXT, user="user",
                            item="item", timestamp="ts")
  _, rows, bad = _read_all(log, range_bytes=100)
  assert len(rows) == 60 and not bad
  with pytest.raises(readers.DataFormatError,
                     match=r"objstore://.*/elsewhere: no files"):
    logs.expand(_ObjectStore.PREFIX + str(tmp_path / "elsewhere"))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e23", "-5", "",
                                   "soon"])
def test_timestamps_that_are_not_times_are_bad_rows(tmp_path, value):
  path = _write(str(tmp_path / "log.csv"),
                ["user,item,ts", "a,x,10", f"a,y,{value}", "b,x,12"])
  log = logs.InteractionLog("log", (path,), logs.TEXT, user="user",
                            item="item", timestamp="ts")
  _, rows, bad = _read_all(log)
  assert [r[:2] for r in rows] == [("a", "x"), ("b", "x")]
  assert bad == [f"{path}, line 3: field 'ts': expected a time since 1970, "
                 f"a finite number from 0 to 2^63, got {value!r}"]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "five"])
def test_ratings_that_are_not_finite_non_negative_are_bad_rows(tmp_path,
                                                               value):
  source = tmp_path / "ml"
  _write(str(source / "u.item"), ["1|A (1995)|01-Jan-1995||u" + "|0" * 19],
         "latin-1")
  _write(str(source / "u.user"), ["1|24|M|x|85711"], "latin-1")
  _write(str(source / "u.data"), ["1\t1\t5\t881250949",
                                  f"1\t1\t{value}\t881250950"], "latin-1")
  with pytest.raises(readers.DataFormatError,
                     match=rf"u\.data, line 2: field 'rating': expected a "
                     rf"finite number >= 0, got '{value}'"):
    readers.make("movielens-100k").read(str(source), readers.ReadOptions())


def test_atomic_timestamp_nan_is_a_bad_row(tmp_path):
  _write(str(tmp_path / "d" / "d.inter"), [
      "user_id:token\titem_id:token\ttimestamp:float", "u\ti\t5",
      "u\tj\tnan", "u\tk\t"])
  tables, report = readers.make("recbole").read(
      str(tmp_path / "d"), readers.ReadOptions(max_bad_rows=2))
  assert [r[:3] for r in tables.interactions] == [("u", "i", 5.0)]
  assert report.bad_examples == (
      f"{tmp_path}/d/d.inter, line 3: field 'timestamp': expected a time "
      "since 1970, a finite number from 0 to 2^63, got nan",
      f"{tmp_path}/d/d.inter, line 4: field 'timestamp': empty; expected a "
      "number")


def test_parquet_row_groups_and_time_columns(tmp_path):
  times = pa.array(np.arange(10, dtype=np.int64) * 1_000_000 + 5_000_000,
                   pa.timestamp("us"))
  path = str(tmp_path / "log.parquet")
  pq.write_table(pa.table({"u": [f"u{k % 3}" for k in range(10)],
                           "i": list(range(10)), "t": times}), path,
                 row_group_size=3)
  log = logs.InteractionLog("log", (path,), logs.PARQUET, user="u", item="i",
                            timestamp="t")
  units, rows, bad = _read_all(log, range_bytes=1)
  assert len(units) == 4 and not bad
  # Integer ids become strings; a timestamp column becomes seconds.
  assert rows[4] == ("u1", "4", 9.0, 5)
  assert [r[3] for r in rows] == list(range(1, 11))


def test_a_missing_column_fails_before_any_unit_is_read(tmp_path):
  path = _write(str(tmp_path / "log.csv"), CSV)
  log = logs.InteractionLog("log", (path,), logs.TEXT, user="user",
                            item="movie", timestamp="ts")
  with pytest.raises(readers.DataFormatError,
                     match=r"log\.csv, line 1: no column\(s\) \['movie'\]; "
                     r"the header has \['item', 'ts', 'user'\]"):
    logs.units(log)
  with pytest.raises(readers.DataFormatError, match="no files"):
    logs.expand(str(tmp_path / "nothing*.csv"))


def test_inline_features_keep_the_first_row_of_each_id(tmp_path):
  path = _write(str(tmp_path / "log.csv"), [
      "user,item,genre", "a,x,drama|comedy", "b,x,horror", "a,y, sci  fi |"])
  log = logs.InteractionLog("log", (path,), logs.TEXT, user="user",
                            item="item", item_features=(("genre",
                                                         "token_seq"),))
  units = logs.units(log, range_bytes=20)
  counts = [logs.count_rows(u, log) for u in units]
  parts = [logs.read_unit(log, u, logs.rows_before(u, counts)).items
           for u in units]
  first = logs.first_per_id(parts)
  assert first.column("id").to_pylist() == ["x", "y"]
  assert first.column("genre").to_pylist() == [["drama", "comedy"],
                                               ["sci", "fi"]]
  assert len(parts) > 1  # the rows of x and y are in different units


def test_a_compressed_text_log_is_refused(tmp_path):
  import gzip
  path = str(tmp_path / "log.csv.gz")
  with gzip.open(path, "wt") as f:
    f.write("\n".join(CSV) + "\n")
  log = logs.InteractionLog("log", (path,), logs.TEXT, user="user",
                            item="item", timestamp="ts")
  with pytest.raises(readers.DataFormatError,
                     match=r"log\.csv\.gz: a compressed text file cannot be "
                     "cut into byte ranges"):
    logs.units(log)


def test_parquet_token_lists_and_wrong_types(tmp_path):
  path = str(tmp_path / "log.parquet")
  pq.write_table(pa.table({"u": ["a", "b"], "i": ["x", "y"],
                           "g": [["drama", "comedy"], []],
                           "blob": [{"k": 1}, {"k": 2}]}), path)
  log = logs.InteractionLog("log", (path,), logs.PARQUET, user="u", item="i",
                            item_features=(("g", "token_seq"),))
  units = logs.units(log)
  got = logs.read_unit(log, units[0], 0)
  assert got.items.column("g").to_pylist() == [["drama", "comedy"], []]
  bad = logs.InteractionLog("log", (path,), logs.PARQUET, user="u",
                            item="blob")
  with pytest.raises(readers.DataFormatError,
                     match=r"column 'blob' has type struct"):
    logs.units(bad)
