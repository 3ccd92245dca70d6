"""Dataset readers, selected by `--data NAME`: each describes its
interaction log (read by ExampleGen's Beam workers) and reads its side
files; `convert` writes a whole dataset as RecBole atomic files."""

from typing import Dict, Optional, Tuple

from cdnrec.core import atomic
from cdnrec.core import item_stats
from cdnrec.data.readers import base
from cdnrec.data.readers.bookcrossing import BookCrossing
from cdnrec.data.readers.movielens import MovieLens100K
from cdnrec.data.readers.movielens import MovieLens1M
from cdnrec.data.readers.movielens import MovieLensCsv
from cdnrec.data.readers.recbole import RecBole
from cdnrec.data.readers.table import Table
from cdnrec.data.readers.tfds_reader import Tfds

ReadOptions = base.ReadOptions
Report = base.Report
DataFormatError = base.DataFormatError

NAMES = ("movielens-100k", "movielens-1m", "movielens-csv", "bookcrossing",
         "recbole", "tfds", "table")
# The paper's head fraction where it differs from the protocol's default
# (item_stats.HEAD_FRACTION): the paper splits BookCrossing at 0.1%.
_PAPER_HEAD_FRACTION = {"bookcrossing": 0.001}


def head_fraction(name: str) -> float:
  """The share of items that are head for data read by reader `name`."""
  return _PAPER_HEAD_FRACTION.get(name, item_stats.HEAD_FRACTION)


def make(name: str, config: Optional[Dict] = None) -> base.Reader:
  """The reader called `name`; config: the table mapping, or
  {"dataset": "movielens/1m-ratings"} for tfds."""
  config = config or {}
  simple = {"movielens-100k": MovieLens100K, "movielens-1m": MovieLens1M,
            "movielens-csv": MovieLensCsv, "bookcrossing": BookCrossing,
            "recbole": RecBole}
  if name in simple:
    return simple[name]()
  if name == "tfds":
    return Tfds(config.get("dataset", "movielens/100k-ratings"))
  if name == "table":
    return Table(config)
  raise DataFormatError(f"unknown data format {name!r}; choose from "
                        f"{list(NAMES)}")


def convert(name: str, source_dir: str, out_dir: str,
            options: ReadOptions = ReadOptions(),
            config: Optional[Dict] = None
            ) -> Tuple[atomic.AtomicDataset, Report]:
  """Reads source_dir with the named reader in this process and writes
  out_dir whole."""
  tables, report = make(name, config).read(source_dir, options)
  base.write(tables, out_dir)
  return atomic.locate(out_dir), report
