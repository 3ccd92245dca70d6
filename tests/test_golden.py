"""The columnar ExampleGen and ItemStatsGen write what the row-by-row ones
did before the rewrite (tests/golden/capture.py): the same splits, features, item
indexes, catalog, frequencies, head/tail, summary and Ω_r. And ExampleGen,
reading every reader's log in Beam, writes what it wrote when the readers
converted the whole source in one process (tests/golden/capture_readers.py)."""

import json
import os

import pytest

from golden import capture

GOLDEN = os.path.join(os.path.dirname(__file__), "golden",
                      "data_components.json")


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
  # Through JSON, as the golden file was, so floats and tuples compare alike.
  return json.loads(json.dumps(capture.capture_all(
      str(tmp_path_factory.mktemp("golden")))))


@pytest.fixture(scope="module")
def golden():
  with open(GOLDEN) as f:
    return json.load(f)


@pytest.mark.parametrize("dataset", ["toy", "tiny_seed3"])
@pytest.mark.parametrize("part", ["splits", "catalog", "item_stats", "summary",
                                  "omega_r"])
def test_same_as_before(captured, golden, dataset, part):
  assert captured[dataset][part] == golden[dataset][part]


READERS_GOLDEN = os.path.join(os.path.dirname(__file__), "golden",
                              "readers.json")


@pytest.fixture(scope="module")
def captured_readers(tmp_path_factory):
  from golden import capture_readers
  return json.loads(json.dumps(capture_readers.capture(
      str(tmp_path_factory.mktemp("readers")))))


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["movielens-100k", "movielens-1m",
                                    "movielens-csv", "bookcrossing",
                                    "table-csv", "table-parquet"])
def test_readers_write_what_they_wrote_when_converting_whole(
    captured_readers, layout):
  """Every layout's log is read by Beam's workers now; the examples and
  the catalog are those of the whole-source conversion before."""
  with open(READERS_GOLDEN) as f:
    golden = json.load(f)[layout]
  assert captured_readers[layout] == golden


@pytest.mark.slow
def test_table_shards_read_as_the_one_file(tmp_path):
  """A folder of CSV shards (a header in each) is the log they split."""
  from golden import capture_readers
  lines = capture_readers.TABLE_CSV["log.csv"]
  for k, part in enumerate((lines[1:10], lines[10:])):
    os.makedirs(tmp_path / "data" / "shards", exist_ok=True)
    with open(tmp_path / "data" / "shards" / f"part-{k}.csv", "w") as f:
      f.write("".join(line + "\n" for line in lines[:1] + part))
  config = {**capture_readers.TABLE_CSV_CONFIG, "interactions": "shards"}
  with open(READERS_GOLDEN) as f:
    golden = json.load(f)["table-csv"]
  got = capture_readers.capture_one(str(tmp_path / "data"), "table", config,
                                    str(tmp_path / "out"))
  assert json.loads(json.dumps(got)) == golden
