"""Any CSV or Parquet table, with a column mapping.

The mapping is a dict (from a small JSON file, `--table-config`, or from
`--columns`):

  {"interactions": "ratings.csv",          # or .parquet; relative to data dir
   "user_id": "userId", "item_id": "movieId",
   "timestamp": "ts",                      # optional
   "item_features": {"genres": "token_seq", "year": "token"},
   "user_features": {"age": "token"},
   "items": "movies.csv", "users": "users.csv",   # optional side tables
   "separator": ",", "list_separator": "|", "encoding": "utf-8"}

Feature columns are read from the side table when there is one, else from
the interaction rows (the first row of each item or user wins).
"""

import csv
import os
from typing import Dict, Iterator, Tuple

from cdnrec.core import atomic
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
    header = next(reader, None) or []
    for record in reader:
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


class Table(base.Reader):
  name = "table"
  files = ("<table>.csv or <table>.parquet",)

  def __init__(self, mapping: Dict):
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
    self._mapping = mapping

  def _value(self, raw: str, kind: str):
    if kind == "token_seq":
      return [t for t in raw.split(self._mapping.get("list_separator", "|"))
              if t]
    return raw

  def read(self, source_dir, options):
    m = self._mapping
    bad = base.BadRows(options)
    item_features = m.get("item_features", {})
    user_features = m.get("user_features", {})
    tables = base.Tables(
        os.path.splitext(os.path.basename(m["interactions"]))[0],
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
        target[row[id_column]] = {c: self._value(row[c], k)
                                  for c, k in features.items()}
    path = os.path.join(source_dir, m["interactions"])
    ts_column = m.get("timestamp")
    inline_items = "items" not in m and item_features
    inline_users = "users" not in m and user_features
    for number, row in _table_rows(path, m, bad):
      _check_columns(path, row, [m["user_id"], m["item_id"]] +
                     ([ts_column] if ts_column else []) +
                     (list(item_features) if inline_items else []) +
                     (list(user_features) if inline_users else []))
      user, item = row[m["user_id"]], row[m["item_id"]]
      if not user or not item:
        bad.add(path, number, "empty user or item id")
        continue
      ts = None
      if ts_column:
        try:
          ts = float(row[ts_column])
        except ValueError:
          bad.add(path, number, f"field {ts_column!r}: expected a number, "
                  f"got {row[ts_column]!r}")
          continue
      if inline_items:
        tables.items.setdefault(item, {c: self._value(row[c], k)
                                       for c, k in item_features.items()})
      if inline_users:
        tables.users.setdefault(user, {c: self._value(row[c], k)
                                       for c, k in user_features.items()})
      tables.interactions.append((user, item, ts, path, number))
    return base.finish(tables, bad)


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
