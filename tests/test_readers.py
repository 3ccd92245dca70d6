"""Every reader on small fixture files written here, clean and dirty."""

import os

import pytest

from cdnrec.core import atomic
from cdnrec.data import readers

U_ITEM = ("1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1" + "|0" * 13,
          "2|GoldenEye (1995)|01-Jan-1995||http://x|0|1|1" + "|0" * 16,
          "3|Café Society (1995)|01-Jan-1995||http://x" + "|0" * 8 + "|1" +
          "|0" * 10)
U_USER = ("1|24|M|technician|85711", "2|53|F|other|94043")
U_DATA = ("1\t1\t5\t881250949", "1\t2\t3\t881250950", "2\t1\t4\t881250951",
          "2\t3\t2\t881250952")


def _write(directory, files, encoding="utf-8"):
  os.makedirs(directory, exist_ok=True)
  for name, lines in files.items():
    with open(os.path.join(directory, name), "w", encoding=encoding,
              newline="") as f:
      f.write("".join(line + "\n" for line in lines))
  return directory


def _read(name, directory, max_bad_rows=0, config=None):
  return readers.make(name, config).read(
      directory, readers.ReadOptions(max_bad_rows))


def _ml100k(tmp_path, data=U_DATA):
  return _write(str(tmp_path / "ml"), {"u.item": U_ITEM, "u.user": U_USER,
                                       "u.data": data}, encoding="latin-1")


def test_movielens_100k_clean(tmp_path):
  tables, report = _read("movielens-100k", _ml100k(tmp_path))
  assert (report.interactions, report.users, report.items) == (4, 2, 3)
  # Genre flags 3, 4, 5 are Animation, Children's, Comedy.
  assert tables.items["1"] == {"title": ["toy", "story"], "year": "1995",
                               "genres": ["Animation", "Children's",
                                          "Comedy"]}
  assert tables.items["3"]["title"] == ["caf", "society"]  # latin-1 é
  assert tables.users["2"] == {"age": "53", "gender": "F",
                               "occupation": "other", "zip": "94043"}
  assert tables.interactions[0][:3] == ("1", "1", 881250949.0)


def test_movielens_100k_malformed_row_named_then_tolerated(tmp_path):
  data = _ml100k(tmp_path, U_DATA + ("2\t2\t5",))
  with pytest.raises(readers.DataFormatError,
                     match=r"u\.data, line 5: expected 4 '\\t'-separated "
                     r"fields \(user, item, rating, timestamp\), got 3"):
    _read("movielens-100k", data)
  _, report = _read("movielens-100k", data, max_bad_rows=1)
  assert report.bad_rows == 1 and report.interactions == 4


def test_wrong_delimiter_is_named(tmp_path):
  data = _ml100k(tmp_path, [line.replace("\t", ",") for line in U_DATA])
  with pytest.raises(readers.DataFormatError,
                     match=r"u\.data, line 1: expected 4 '\\t'-separated"):
    _read("movielens-100k", data)


def test_movielens_1m_clean_and_unknown_movie(tmp_path):
  files = {
      "movies.dat": ["1::Toy Story (1995)::Animation|Children's|Comedy",
                     "2::Heat (1995)::Action|Crime|Thriller"],
      "users.dat": ["1::F::1::10::48067", "2::M::56::16::70072"],
      "ratings.dat": ["1::1::5::978300760", "2::2::3::978300761",
                      "2::1::4::978300762"],
  }
  tables, report = _read("movielens-1m", _write(str(tmp_path / "a"), files,
                                                "latin-1"))
  assert report.interactions == 3
  assert tables.items["2"] == {"title": ["heat"], "year": "1995",
                               "genres": ["Action", "Crime", "Thriller"]}
  assert tables.users["2"]["age"] == "56"
  files["ratings.dat"].append("1::7::4::978300763")
  with pytest.raises(readers.DataFormatError,
                     match=r"ratings\.dat, line 4: field 'item_id': item '7' "
                     r"is not in the item file"):
    _read("movielens-1m", _write(str(tmp_path / "b"), files, "latin-1"))


def test_movielens_csv_clean_and_bad_encoding(tmp_path):
  files = {"movies.csv": ["movieId,title,genres",
                          '1,"American President, The (1995)",Comedy|Romance',
                          "2,Jumanji (1995),(no genres listed)"],
           "ratings.csv": ["userId,movieId,rating,timestamp",
                           "1,1,4.0,964982703", "1,2,4.5,964982224"]}
  tables, report = _read("movielens-csv", _write(str(tmp_path / "a"), files))
  assert tables.items["1"]["title"] == ["american", "president", "the"]
  assert tables.items["2"]["genres"] == []
  assert not tables.users and report.notes  # no user file in this layout
  bad = _write(str(tmp_path / "b"), files)
  with open(os.path.join(bad, "ratings.csv"), "ab") as f:
    f.write(b"1,3,4.0,9649\xff82703\n")
  with pytest.raises(readers.DataFormatError,
                     match=r"ratings\.csv, line 4: not valid utf-8"):
    _read("movielens-csv", bad)


def test_missing_file_is_named(tmp_path):
  with pytest.raises(readers.DataFormatError,
                     match=r"ratings\.csv: missing; the rating file"):
    _read("movielens-csv", _write(str(tmp_path / "a"), {"movies.csv": [
        "movieId,title,genres"]}))


BX_BOOKS = ['"ISBN";"Book-Title";"Book-Author";"Year-Of-Publication";'
            '"Publisher";"Image-URL-S";"Image-URL-M";"Image-URL-L"',
            '"0195153448";"Classical Mythology";"Mark P. O. Morford";"2002";'
            '"Oxford University Press";"s";"m";"l"',
            '"0002005018";"Clara Callan";"Richard Bruce Wright";"2001";'
            '"HarperFlamingo Canada";"s";"m";"l"']
BX_USERS = ['"User-ID";"Location";"Age"', '"1";"nyc, new york, usa";NULL',
            '"2";"stockton, california, usa";"18"']
BX_RATINGS = ['"User-ID";"ISBN";"Book-Rating"', '"1";"0195153448";"5"',
              '"2";"0195153448";"0"', '"2";"0002005018";"8"']


def test_bookcrossing_drops_implicit_and_tolerates_dirty_rows(tmp_path):
  tables, report = _read("bookcrossing", _write(str(tmp_path / "a"), {
      "BX-Books.csv": BX_BOOKS, "BX-Users.csv": BX_USERS,
      "BX-Book-Ratings.csv": BX_RATINGS}, "latin-1"))
  assert report.interactions == 2  # the 0 rating is implicit
  assert "1 implicit (0) ratings dropped" in report.notes[0]
  assert tables.interactions[0][2] is None  # no timestamps
  assert tables.items["0195153448"]["author"] == "mark_p_o_morford"
  assert tables.users["1"] == {"location": "nyc_new_york_usa", "age": ""}
  # A title ending in a backslash escapes its closing quote (a known dirty
  # row of the real file): the fields run together, a bad row.
  dirty = BX_BOOKS + ['"0789466953";"DK Readers (Level 4)\\";"James Buckley";'
                      '"2000";"DK Publishing Inc";"s";"m";"l"']
  source = _write(str(tmp_path / "b"), {
      "BX-Books.csv": dirty, "BX-Users.csv": BX_USERS,
      "BX-Book-Ratings.csv": BX_RATINGS}, "latin-1")
  with pytest.raises(readers.DataFormatError, match=r"BX-Books\.csv, line 4"):
    _read("bookcrossing", source)
  assert _read("bookcrossing", source, max_bad_rows=1)[1].bad_rows == 1


def test_empty_after_filtering_is_refused(tmp_path):
  with pytest.raises(readers.DataFormatError, match="no interactions left"):
    _read("bookcrossing", _write(str(tmp_path / "a"), {
        "BX-Books.csv": BX_BOOKS, "BX-Users.csv": BX_USERS,
        "BX-Book-Ratings.csv": BX_RATINGS[:1] + ['"2";"0195153448";"0"']},
        "latin-1"))


def test_recbole_reads_generated_data(tiny_data_dir, tmp_path):
  dataset, report = readers.convert("recbole", tiny_data_dir,
                                    str(tmp_path / "out"))
  original = atomic.locate(tiny_data_dir)
  with open(original.inter_path) as f:
    assert report.interactions == sum(1 for _ in f) - 1
  assert [f.name for f in dataset.user_fields] == [
      f.name for f in original.user_fields]
  bad = _write(str(tmp_path / "bad"), {"x.inter": ["user_id\titem_id",
                                                   "u1\ti1"]})
  with pytest.raises(readers.DataFormatError, match=r"x\.inter, line 1.*"
                     r"'user_id'.*name:type"):
    _read("recbole", bad)


def test_table_csv_with_inline_features(tmp_path):
  source = _write(str(tmp_path / "t"), {"log.csv": [
      "uid,iid,ts,genre,age", "a,x,10,drama|comedy,30", "a,y,11,action,30",
      "b,x,12,drama|comedy,41"]})
  mapping = readers.table.parse_columns(
      "interactions=log.csv,user_id=uid,item_id=iid,timestamp=ts,"
      "item:genre=token_seq,user:age=token")
  tables, report = _read("table", source, config=mapping)
  assert report.interactions == 3
  assert tables.items["x"] == {"genre": ["drama", "comedy"]}
  assert tables.users["b"] == {"age": "41"}
  with pytest.raises(readers.DataFormatError, match=r"no column\(s\) \['uid'"):
    _read("table", source, config={**mapping, "separator": ";"})


def test_table_parquet_with_side_tables(tmp_path):
  import pyarrow as pa
  import pyarrow.parquet as pq
  source = str(tmp_path / "p")
  os.makedirs(source)
  pq.write_table(pa.table({"u": ["a", "b"], "i": ["x", "y"],
                           "t": [1.0, 2.0]}), f"{source}/log.parquet")
  pq.write_table(pa.table({"i": ["x", "y"], "cat": ["c1", "c2"]}),
                 f"{source}/items.parquet")
  tables, _ = _read("table", source, config={
      "interactions": "log.parquet", "user_id": "u", "item_id": "i",
      "timestamp": "t", "items": "items.parquet",
      "item_features": {"cat": "token"}})
  assert tables.items == {"x": {"cat": "c1"}, "y": {"cat": "c2"}}
  assert [r[2] for r in tables.interactions] == [1.0, 2.0]


def test_tfds_never_downloads(tmp_path):
  with pytest.raises(readers.DataFormatError, match="never downloads"):
    _read("tfds", str(tmp_path))


def test_failed_conversion_leaves_nothing(tmp_path):
  out = tmp_path / "out"
  with pytest.raises(readers.DataFormatError):
    readers.convert("movielens-100k", str(tmp_path / "nothing-here"),
                    str(out))
  assert not out.exists()
  assert not [p for p in os.listdir(tmp_path) if p.startswith(".staging")]


@pytest.mark.slow
def test_example_gen_reads_other_formats(tmp_path):
  """The pipeline's ExampleGen goes through the same readers."""
  import glob
  import tensorflow as tf
  from cdnrec.components import local
  from cdnrec.core import example_io
  source = _ml100k(tmp_path)
  examples, catalog, _ = local.run_example_gen(
      local.DataArtifacts(str(tmp_path / "out")), source,
      data_format="movielens-100k")
  counts = {s: sum(1 for _ in tf.data.TFRecordDataset(
      glob.glob(example_io.split_pattern(examples.uri, s)),
      compression_type="GZIP")) for s in example_io.SPLITS}
  # Two users with two ratings each: fewer than three, all stay in train.
  assert counts == {"train": 4, "eval": 0, "test": 0}
  assert os.path.exists(os.path.join(catalog.uri, "read_report.json"))


def test_example_gen_counts_side_and_log_bad_rows_together(tmp_path):
  """A bad row of the movie file (read whole before Beam) and one of the
  log (read by Beam's workers) count against one --max-bad-rows."""
  from cdnrec.components import local
  source = _ml100k(tmp_path, U_DATA + ("2\t2\t5\tnan",))
  with open(os.path.join(source, "u.item"), "a", encoding="latin-1") as f:
    f.write("9|Broken|x\n")
  with pytest.raises(readers.DataFormatError) as failed:
    local.run_example_gen(local.DataArtifacts(str(tmp_path / "out")),
                          source, data_format="movielens-100k",
                          max_bad_rows=1)
  message = str(failed.value)
  assert message.startswith("2 bad row(s), more than --max-bad-rows=1")
  assert "u.item, line 4: expected 24 '|'-separated fields" in message
  assert ("u.data, line 5: field 'timestamp': expected a time since 1970, "
          "a finite number from 0 to 2^63, got 'nan'") in message


def test_stats_match_a_hand_count(tmp_path):
  from cdnrec.data import stats
  lines = ["user_id:token\titem_id:token\ttimestamp:float"]
  # u1 rates a, b, c, d (times 1-4); u2 rates a, b, c; u3 rates a.
  for user, items in (("u1", "abcd"), ("u2", "abc"), ("u3", "a")):
    lines += [f"{user}\t{item}\t{t}" for t, item in enumerate(items, 1)]
  source = _write(str(tmp_path / "s"), {"s.inter": lines})
  tables, _ = _read("recbole", source)
  result = stats.compute(tables, head_fraction=0.25)
  # Test items: u1 -> d, u2 -> c; eval: u1 -> c, u2 -> b; u3 keeps its one
  # rating in train. Train: a 3 (u1, u2, u3), b 1 (u1), c 0, d 0.
  # round(0.25 * 4 items) = 1 head item: a.
  assert (result.users, result.items, result.interactions) == (3, 4, 8)
  assert result.sparsity == pytest.approx(1 - 8 / 12)
  assert result.imbalance_factor == 3.0  # a: 3, d: 1 over all interactions
  assert result.imbalance_factor_train == 3.0  # a: 3 / b: 1
  assert (result.head_items, result.tail_items) == (1, 3)
  assert (result.test_head, result.test_tail) == (0, 2)


def _prepare_fake_tfds(data_dir, examples):
  """Writes a prepared movielens/100k-ratings as `tfds build` would, from
  the examples given (the real one would need a download)."""
  import tensorflow as tf
  import tensorflow_datasets as tfds
  from tensorflow_datasets.core import naming
  builder = tfds.builder("movielens/100k-ratings", data_dir=data_dir)
  os.makedirs(builder.data_dir, exist_ok=True)
  template = naming.ShardedFileTemplate(
      data_dir=builder.data_dir, dataset_name=builder.name, split="train",
      filetype_suffix="tfrecord")
  with tf.io.TFRecordWriter(os.fspath(template.sharded_filepath(
      shard_index=0, num_shards=1))) as w:
    for ex in examples:
      w.write(builder.info.features.serialize_example(ex))
  builder.info.set_splits(tfds.core.SplitDict([tfds.core.SplitInfo(
      name="train", shard_lengths=[len(examples)], num_bytes=0,
      filename_template=template)]))
  builder.info.write_to_directory(builder.data_dir)


def _tfds_example(user, movie, title, genres, ts):
  return dict(bucketized_user_age=25.0, movie_genres=genres, movie_id=movie,
              movie_title=title, raw_user_age=24.0, timestamp=ts,
              user_gender=False, user_id=user, user_occupation_label=3,
              user_occupation_text=b"technician", user_rating=5.0,
              user_zip_code=b"85711")


def test_tfds_reads_a_prepared_dataset(tmp_path):
  _prepare_fake_tfds(str(tmp_path), [
      _tfds_example(b"1", b"10", b"Toy Story (1995)", [7, 4], 100),
      _tfds_example(b"1", b"20", b"Heat (1995)", [0], 200),
      _tfds_example(b"2", b"10", b"Toy Story (1995)", [7, 4], 300)])
  tables, report = _read("tfds", str(tmp_path))
  assert (report.interactions, report.users, report.items) == (3, 2, 2)
  assert tables.items["10"]["title"] == ["toy", "story"]
  assert tables.items["10"]["year"] == "1995"
  assert len(tables.items["10"]["genres"]) == 2
  assert tables.users["1"] == {"gender": "F", "occupation": "technician",
                               "zip": "85711", "age": "25"}
  assert sorted(r[2] for r in tables.interactions) == [100.0, 200.0, 300.0]
  # A duplicate rating is a bad row here too.
  _prepare_fake_tfds(str(tmp_path / "dup"), [
      _tfds_example(b"1", b"10", b"Toy Story (1995)", [7], 100),
      _tfds_example(b"1", b"10", b"Toy Story (1995)", [7], 200)])
  with pytest.raises(readers.DataFormatError, match="duplicate interaction"):
    _read("tfds", str(tmp_path / "dup"))


def test_cli_reports_bad_input_in_one_line(tmp_path):
  import subprocess
  import sys
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run(
      [sys.executable, "-m", "cdnrec.cli", "stats", "--data", "movielens-1m",
       "--data-dir", str(tmp_path)], cwd=root, capture_output=True,
      text=True, check=False)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      f"error: {tmp_path}/ratings.dat: missing; the rating file "
      "(UserID::MovieID::Rating::Timestamp) is expected there")
  assert "Traceback" not in result.stderr
