"""Any CSV or Parquet table, with a column mapping.

The mapping is a dict (from a small JSON file, `--table-config`, or from
`--columns`):

  {"interactions": "ratings.csv",          # or .parquet, a folder of shards
                                           # or a glob; relative to data dir
   "user_id": "userId", "item_id": "movieId",
   "timestamp": "ts",                      # optional
   "item_features": {"genres": "token_seq", "year": "token"},
   "user_features": {"age": "token"},
   "items": "movies.csv", "users": "users.csv",   # optional side tables
   "separator": ",", "list_separator": "|", "encoding": "utf-8"}

Feature columns are read from the side table when there is one, else from
the interaction rows (the first row of each item or user wins). The
interaction log is read by ExampleGen's workers in parallel
(interaction_logs); the side tables are read whole.
"""

import csv
import os
from typing import Dict, Iterator, Tuple

from cdnrec.core import atomic
from cdnrec.data import interaction_logs as logs
from cdnrec.data.readers import base

_TYPES = {"token": atomic.FieldType.TOKEN,
          "token_seq": atomic.FieldType.TOKEN_SEQ}


def _table_rows(path: str, mapping: Dict, bad) -> Iterator[Tuple[int, Dict]]:
  if not os.path.isfile(path):
    raise base.DataFormatError(f"{path}: missing; the table config names it")
  if path.endswith(".parquet"):
    import pyarrow.parquet as pq
    try:
      table = pq.read_table(path)
    except Exception as e:  # pyarrow raises many types for a bad file
      raise base.DataFormatError(f"{path}: not a readable Parquet file "
                                 f"({e})") from e
    for number, row in enumerate(table.to_pylist(), start=1):
      yield number, {k: "" if v is None else str(v) for k, v in row.items()}
    return
  encoding = mapping.get("encoding", "utf-8")
  base.decode_check(path, encoding)
  with base.open_text(path, encoding) as f:
    reader = csv.reader(f, delimiter=mapping.get("separator", ","))
    header = next(base.csv_records(reader, path), None) or []
    for record in base.csv_records(reader, path):
      if not record:
        continue
      if len(record) != len(header):
        bad.add(path, reader.line_num, f"expected {len(header)} fields "
                f"{header}, got {len(record)} (is the separator "
                f"{mapping.get('separator', ',')!r} right?)")
        continue
      yield reader.line_num, dict(zip(header, record))


def _check_columns(path: str, row: Dict, columns) -> None:
  missing = [c for c in columns if c not in row]
  if missing:
    raise base.DataFormatError(
        f"{path}, line 1: no column(s) {missing}; the table has "
        f"{sorted(row)}")


class Table(base.LogReader):
  name = "table"
  files = ("<table>.csv or <table>.parquet",)

  def __init__(self, mapping: Dict):
    if not isinstance(mapping, dict):
      raise base.DataFormatError(
          f"table mapping: expected a JSON object of column names, got "
          f"{type(mapping).__name__} {str(mapping)[:60]}")
    for key in ("interactions", "user_id", "item_id"):
      if key not in mapping:
        raise base.DataFormatError(f"table mapping lacks {key!r}; got "
                                   f"{sorted(mapping)}")
    for side in ("item_features", "user_features"):
      for column, kind in mapping.get(side, {}).items():
        if kind not in _TYPES:
          raise base.DataFormatError(
              f"table mapping: {side}[{column!r}] = {kind!r}; expected one "
              f"of {sorted(_TYPES)}")
    for key in ("interactions", "user_id", "item_id", "timestamp", "items",
                "users", "separator", "list_separator", "encoding"):
      if key in mapping and not (isinstance(mapping[key], str) and
                                 mapping[key]):
        raise base.DataFormatError(
            f"table mapping: {key} = {mapping[key]!r}; expected a non-empty "
            "string")
    separator = mapping.get("separator", ",")
    if len(separator) != 1 or separator in "\r\n\"":
      raise base.DataFormatError(
          f"table mapping: separator {separator!r}; expected one character "
          "other than a quote or a newline, e.g. ',' or ';' or a tab")
    base.check_encoding(mapping.get("encoding", "utf-8"), "table mapping")
    self._mapping = mapping

  def _value(self, raw: str, kind: str):
    if kind == "token_seq":
      return [t for t in raw.split(self._mapping.get("list_separator", "|"))
              if t]
    return raw

  def interaction_log(self, source_dir):
    m = self._mapping
    paths = logs.expand(os.path.join(source_dir, m["interactions"]))
    formats = {"parquet" if p.endswith(".parquet") else "text" for p in paths}
    if len(formats) > 1:
      raise base.DataFormatError(
          f"{m['interactions']}: mixes Parquet and text files; expected "
          "shards of one format")
    inline = lambda side: (() if side + "s" in m else
                           tuple(m.get(side + "_features", {}).items()))
    return logs.InteractionLog(
        os.path.splitext(os.path.basename(paths[0]))[0]
        if len(paths) == 1 else os.path.basename(
            os.path.dirname(paths[0])) or "table",
        paths, logs.PARQUET if formats == {"parquet"} else logs.TEXT,
        user=m["user_id"], item=m["item_id"], timestamp=m.get("timestamp"),
        delimiter=m.get("separator", ","), encoding=m.get("encoding", "utf-8"),
        item_features=inline("item"), user_features=inline("user"),
        list_separator=m.get("list_separator", "|"))

  def read_sides(self, source_dir, bad):
    m = self._mapping
    item_features = m.get("item_features", {})
    user_features = m.get("user_features", {})
    tables = base.Tables(
        self.interaction_log(source_dir).name,
        [atomic.Field(c, _TYPES[k]) for c, k in item_features.items()],
        [atomic.Field(c, _TYPES[k]) for c, k in user_features.items()])
    for side, id_column, features, target in (
        ("items", m["item_id"], item_features, tables.items),
        ("users", m["user_id"], user_features, tables.users)):
      if side not in m:
        continue
      path = os.path.join(source_dir, m[side])
      for number, row in _table_rows(path, m, bad):
        _check_columns(path, row, [id_column, *features])
        base.add_side_row(target, row[id_column],
                          {c: self._value(row[c], k)
                           for c, k in features.items()}, bad, path, number,
                          id_column)
    return tables


def parse_columns(text: str) -> Dict:
  """'user_id=userId,item_id=movieId,timestamp=ts,item:genres=token_seq,
  user:age=token' -> a mapping (interactions file set separately)."""
  mapping: Dict = {}
  for part in filter(None, (p.strip() for p in text.split(","))):
    key, sep, value = part.partition("=")
    if not sep:
      raise base.DataFormatError(f"--columns: {part!r} must look like "
                                 "KEY=VALUE")
    if key.startswith(("item:", "user:")):
      side, column = key.split(":", 1)
      mapping.setdefault(f"{side}_features", {})[column] = value
    else:
      mapping[key] = value
  return mapping
