"""Interaction logs read by Beam's workers, one unit of work at a time.

A log is one file or many (the shards of a folder or a glob), in one of
three formats: RecBole atomic files, delimited text (CSV, TSV, MovieLens's
`::`), or Parquet. Text files are cut into byte ranges and Parquet files
into row groups; each unit is parsed in C++ (pyarrow) into an Arrow table
with the canonical columns:

  user_id, item_id (strings), timestamp (float64, when the log has one) and
  POSITION: the row's place in the log, file index << FILE_SHIFT | 1-based
  line (text) or row (Parquet), so errors name file and line, and "first
  appearance in the log" is the order of reading the files top to bottom.

Rows that fail a check (a wrong number of fields, an empty id, a timestamp
or rating that is not a finite number in range) are set aside as BadRows.
A text unit whose rows do not all parse is re-read line by line, so each bad
line is named. A record may not span lines (a quoted field holding a
newline is a bad row): that is what lets any byte range be parsed alone.

Inline features (the table reader's item or user columns when there is no
side file) come out per unit as the first row of each id in the unit.
"""

import contextlib
import csv
import dataclasses
import io
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from apache_beam.io import filesystems
from apache_beam.io.filesystem import CompressionTypes

from cdnrec.core import atomic
from cdnrec.data import atomic_columns

POSITION = "line"
FILE_SHIFT = 40
USER_ID = "user_id"
ITEM_ID = "item_id"
TIMESTAMP = "timestamp"
ATOMIC, TEXT, PARQUET = "atomic", "text", "parquet"
# Ratings: any finite number >= 0, or Book-Crossing's integers 0-10 where 0
# is an implicit interaction that is dropped (and counted).
RATING_NUMBER, RATING_EXPLICIT_0_10 = "number", "explicit-0-10"
# Timestamps become int64 in the examples; anything at or above 2^63 (or
# negative, or not finite) is a bad row rather than an overflow later.
_MAX_TIMESTAMP = float(2 ** 63)
# A byte that stands in for a multi-character delimiter (MovieLens 1M's
# "::") so that pyarrow's one-character parser can split the fields.
_UNIT_SEPARATOR = "\x1f"
# Byte ranges of a compressed file are not ranges of its text.
_COMPRESSED = (".gz", ".bz2", ".zst", ".zstd", ".deflate", ".zip", ".xz",
               ".lz4", ".snappy")
_TYPES = {"token": atomic.FieldType.TOKEN,
          "token_seq": atomic.FieldType.TOKEN_SEQ}

BadRow = atomic_columns.BadRow
DataFormatError = atomic.DataFormatError


@dataclasses.dataclass(frozen=True)
class InteractionLog:
  """Where a log is and how to read it.

  Args:
    name: the dataset's name (artifact and catalog names).
    paths: the log's files, in reading order.
    format: ATOMIC, TEXT or PARQUET.
    user, item: the columns holding the ids.
    timestamp: the column holding the time, or None.
    rating: a column to check (and, for RATING_EXPLICIT_0_10, filter on).
    rating_rule: RATING_NUMBER or RATING_EXPLICIT_0_10.
    columns: a headerless text file's column names; () when the first line
      of every file is a header.
    delimiter, quote, escape, encoding: the text layout.
    describe: the fields as the error for a wrong field count names them.
    upper_items: item ids are trimmed and upper-cased (ISBNs).
    item_features, user_features: (column, "token" | "token_seq") read from
      the log's rows (inline), when there is no item or user side file.
    list_separator: splits a token_seq cell.
    atomic_fields: an ATOMIC log's typed columns.
  """
  name: str
  paths: Tuple[str, ...]
  format: str
  user: str = USER_ID
  item: str = ITEM_ID
  timestamp: Optional[str] = None
  rating: Optional[str] = None
  rating_rule: str = RATING_NUMBER
  columns: Tuple[str, ...] = ()
  delimiter: str = ","
  quote: Optional[str] = '"'
  escape: Optional[str] = None
  encoding: str = "utf-8"
  describe: str = ""
  upper_items: bool = False
  item_features: Tuple[Tuple[str, str], ...] = ()
  user_features: Tuple[Tuple[str, str], ...] = ()
  list_separator: str = "|"
  atomic_fields: Tuple[atomic.Field, ...] = ()

  def __post_init__(self):
    if self.format not in (ATOMIC, TEXT, PARQUET):
      raise ValueError(f"format {self.format!r}")
    if not self.paths:
      raise DataFormatError(f"{self.name}: the log has no files")
    for column, kind in self.item_features + self.user_features:
      if kind not in _TYPES:
        raise DataFormatError(f"feature column {column!r}: kind {kind!r}; "
                              f"expected one of {sorted(_TYPES)}")

  @property
  def has_timestamp(self) -> bool:
    return self.timestamp is not None

  @property
  def needed(self) -> Tuple[str, ...]:
    """The columns a unit reads."""
    names = [self.user, self.item]
    names += [c for c in (self.timestamp, self.rating) if c]
    names += [c for c, _ in self.item_features + self.user_features]
    return tuple(dict.fromkeys(names))

  def inter_fields(self) -> Tuple[atomic.Field, ...]:
    fields = [atomic.Field(USER_ID, atomic.FieldType.TOKEN),
              atomic.Field(ITEM_ID, atomic.FieldType.TOKEN)]
    if self.has_timestamp:
      fields.append(atomic.Field(TIMESTAMP, atomic.FieldType.FLOAT))
    return tuple(fields)

  def feature_fields(self, side: str) -> Tuple[atomic.Field, ...]:
    """The inline features of side "item" or "user" as atomic fields."""
    pairs = self.item_features if side == "item" else self.user_features
    return tuple(atomic.Field(c, _TYPES[k]) for c, k in pairs)

  def describe_position(self, position: int) -> Tuple[str, int]:
    return (self.paths[position >> FILE_SHIFT],
            position & ((1 << FILE_SHIFT) - 1))


@dataclasses.dataclass(frozen=True)
class Unit:
  """A byte range of a text file or a run of a Parquet file's row groups.

  header: the file's column names (text with a header line), read once
  when the units are planned. size: bytes the unit holds (uncompressed for
  Parquet), which sizes ExampleGen's buckets.
  """
  file_index: int
  path: str
  start: int
  end: int
  size: int
  header: Tuple[str, ...] = ()

  @property
  def key(self) -> Tuple[int, int]:
    return self.file_index, self.start


@dataclasses.dataclass
class UnitRows:
  """What one unit yields: the canonical rows, the bad rows, the rows
  dropped on purpose (implicit ratings), and the first row of each id of
  the inline item and user features (with POSITION), if any."""
  rows: pa.Table
  bad: List[BadRow]
  dropped: int = 0
  items: Optional[pa.Table] = None
  users: Optional[pa.Table] = None


def expand(pattern: str) -> Tuple[str, ...]:
  """A file, a folder (its files, hidden ones aside) or a glob, as a sorted
  tuple of files; local or remote (Beam's filesystems)."""
  fs = filesystems.FileSystems
  given = pattern
  if _is_local_directory(pattern):
    pattern = fs.join(pattern, "*")
  elif not _has_wildcard(pattern):
    if fs.exists(pattern) and (_is_local(pattern) or
                               not _is_remote_folder(pattern)):
      return (pattern,)
    if not _is_local(pattern):
      # An object store has no folders, only prefixes: gs://b/logs names
      # the objects under gs://b/logs/.
      pattern = fs.join(pattern, "*")
  found = sorted(m.path for m in fs.match([pattern])[0].metadata_list)
  found = tuple(p for p in found if not _basename(p).startswith((".", "_")))
  if not found:
    raise DataFormatError(f"{given}: no files; expected the interaction "
                          "log there (a file, a folder of shards or a glob)")
  return found


def _is_local(path: str) -> bool:
  return "://" not in path


def _is_local_directory(path: str) -> bool:
  import os
  return _is_local(path) and os.path.isdir(path)


def _has_wildcard(path: str) -> bool:
  return any(c in path for c in "*?[")


def _is_remote_folder(path: str) -> bool:
  """Whether objects lie under path/ (some stores keep a folder's
  placeholder object, which exists() reports)."""
  fs = filesystems.FileSystems
  return bool(fs.match([fs.join(path, "*")], [1])[0].metadata_list)


def _basename(path: str) -> str:
  return path.rstrip("/").rsplit("/", 1)[-1]


def units(log: InteractionLog,
          range_bytes: int = atomic_columns.RANGE_BYTES) -> List[Unit]:
  """The log's units of work, in reading order; checks every file's header
  (or schema) for the columns the log needs, so a wrong mapping fails here,
  before any worker starts."""
  out: List[Unit] = []
  for index, path in enumerate(log.paths):
    if log.format != PARQUET and path.lower().endswith(_COMPRESSED):
      raise DataFormatError(
          f"{path}: a compressed text file cannot be cut into byte ranges; "
          "expected it uncompressed (or the log as Parquet, whose pages "
          "are compressed inside)")
    if log.format == PARQUET:
      out += _parquet_units(log, index, path, range_bytes)
      continue
    header = () if log.format == ATOMIC else _header(log, path)
    for r in atomic_columns.byte_ranges(path, range_bytes):
      out.append(Unit(index, path, r.start, r.end, r.end - r.start, header))
  return out


def _header(log: InteractionLog, path: str) -> Tuple[str, ...]:
  if log.columns:
    names = log.columns
  else:
    with filesystems.FileSystems.open(
        path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
      first = f.readline()
    try:
      line = first.decode(log.encoding).rstrip("\r\n")
    except UnicodeDecodeError as e:
      raise DataFormatError(f"{path}, line 1: not valid {log.encoding} "
                            f"({e.reason} at byte {e.start}); expected "
                            f"{log.encoding}-encoded text") from None
    try:
      names = tuple(_split_line(log, line))
    except csv.Error as e:
      raise DataFormatError(f"{path}, line 1: {e}; expected a header of "
                            "column names") from None
  missing = [c for c in log.needed if c not in names]
  if missing:
    where = "the header" if not log.columns else "the layout"
    raise DataFormatError(
        f"{path}, line 1: no column(s) {missing}; {where} has "
        f"{sorted(names)} (is the separator {log.delimiter!r} right?)")
  return tuple(names)


def _split_line(log: InteractionLog, line: str) -> List[str]:
  if log.quote is None and log.escape is None:
    return line.split(log.delimiter)
  record = next(csv.reader([line], delimiter=log.delimiter,
                           quotechar=log.quote or '"',
                           quoting=csv.QUOTE_MINIMAL if log.quote
                           else csv.QUOTE_NONE,
                           escapechar=log.escape), [])
  return record


@contextlib.contextmanager
def _parquet_file(path: str):
  """The Parquet file at path, open for the block; one line on a bad file."""
  import pyarrow.parquet as pq
  with filesystems.FileSystems.open(
      path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
    try:
      parquet = pq.ParquetFile(raw)
    except Exception as e:  # pyarrow raises many types for a bad file
      raise DataFormatError(f"{path}: not a readable Parquet file "
                            f"({e})") from None
    with parquet:
      yield parquet


def _parquet_units(log: InteractionLog, index: int, path: str,
                   range_bytes: int) -> List[Unit]:
  with _parquet_file(path) as parquet:
    schema = parquet.schema_arrow
    meta = parquet.metadata
  names = tuple(schema.names)
  missing = [c for c in log.needed if c not in names]
  if missing:
    raise DataFormatError(f"{path}: no column(s) {missing}; the table has "
                          f"{sorted(names)}")
  for name in log.needed:
    kind = schema.field(name).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or
            pa.types.is_integer(kind) or pa.types.is_floating(kind) or
            (pa.types.is_timestamp(kind) and name == log.timestamp) or
            (pa.types.is_list(kind) and
             pa.types.is_string(kind.value_type))):
      raise DataFormatError(
          f"{path}: column {name!r} has type {kind}; expected strings, "
          "numbers, a list of strings (features) or a timestamp (time)")
  out, start, size = [], 0, 0
  for group in range(meta.num_row_groups):
    size += meta.row_group(group).total_byte_size
    if size >= range_bytes or group == meta.num_row_groups - 1:
      out.append(Unit(index, path, start, group + 1, size, names))
      start, size = group + 1, 0
  return out


def count_rows(unit: Unit, log: InteractionLog) -> Tuple[Tuple[int, int],
                                                         int]:
  """(unit key, lines or rows in the unit): prefix sums give each unit its
  first line number."""
  if log.format == PARQUET:
    with _parquet_file(unit.path) as parquet:
      meta = parquet.metadata
    return unit.key, sum(meta.row_group(g).num_rows
                         for g in range(unit.start, unit.end))
  return unit.key, atomic_columns.count_newlines(
      atomic_columns.ByteRange(unit.path, unit.start, unit.end))[1]


def rows_before(unit: Unit, counts: Sequence[Tuple[Tuple[int, int], int]]
                ) -> int:
  """Lines (rows) of the unit's file before the unit."""
  return sum(n for (index, start), n in counts
             if index == unit.file_index and start < unit.start)


def read_unit(log: InteractionLog, unit: Unit, before: int) -> UnitRows:
  """The unit's canonical rows; before: rows_before(unit, ...)."""
  if log.format == ATOMIC:
    table, bad = atomic_columns.read_range(
        atomic_columns.ByteRange(unit.path, unit.start, unit.end),
        log.atomic_fields, before)
    lines = table.column(atomic_columns.LINE).to_numpy()
    strings = {USER_ID: table.column(USER_ID), ITEM_ID: table.column(ITEM_ID)}
    if log.has_timestamp:
      strings[TIMESTAMP] = table.column(TIMESTAMP)
  elif log.format == PARQUET:
    strings, lines, bad = _parquet_rows(log, unit, before)
  else:
    strings, lines, bad = _text_rows(log, unit, before)
  return _checked(log, unit, strings, lines, bad)


def _parquet_rows(log, unit, before):
  with _parquet_file(unit.path) as parquet:
    try:
      table = parquet.read_row_groups(list(range(unit.start, unit.end)),
                                      columns=list(log.needed))
    except Exception as e:  # pyarrow raises many types for a bad file
      raise DataFormatError(
          f"{unit.path}: row groups {unit.start}-{unit.end - 1} cannot be "
          f"read ({e})") from None
  columns = {}
  for name in log.needed:
    column = table.column(name).combine_chunks()
    if name == log.timestamp and pa.types.is_timestamp(column.type):
      per_second = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[column.type.unit]
      column = pc.divide(pc.cast(column.cast(pa.int64()), pa.float64()),
                         per_second)
    elif name in (log.timestamp, log.rating) and (
        pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
      column = column.cast(pa.float64())
    elif pa.types.is_list(column.type):
      # A list of tokens: joined as a cell of text would hold them.
      column = pc.binary_join(column, log.list_separator)
    elif not pa.types.is_string(column.type):
      column = column.cast(pa.string())
    columns[name] = column
  lines = before + 1 + np.arange(table.num_rows, dtype=np.int64)
  return columns, lines, []


def _text_rows(log, unit, before):
  data, moved = atomic_columns.owned_bytes(
      atomic_columns.ByteRange(unit.path, unit.start, unit.end))
  first_line = 1 + before + int(moved)
  if unit.start == 0 and not log.columns:  # the header line
    end = data.find(b"\n")
    data = data[end + 1:] if end >= 0 else b""
    first_line += 1
  try:
    text = data.decode(log.encoding)
    utf8 = data if log.encoding in ("utf-8", "utf8") else text.encode("utf-8")
    columns = _fast_parse(log, unit.header, utf8)
    lines = atomic_columns.line_numbers(data, first_line)
    if len(lines) != len(columns[log.user]):
      raise ValueError("blank-looking lines")
    return columns, lines, []
  except (ValueError, pa.ArrowException):
    return _slow_parse(log, unit, data, first_line)


def _fast_parse(log, header, utf8: bytes):
  """Raises ValueError when any row needs the slow path."""
  delimiter = log.delimiter
  if len(delimiter) > 1:
    if _UNIT_SEPARATOR.encode() in utf8:
      raise ValueError("the stand-in delimiter occurs in the data")
    utf8 = utf8.replace(delimiter.encode("utf-8"), _UNIT_SEPARATOR.encode())
    delimiter = _UNIT_SEPARATOR
  invalid = []

  def on_invalid(row):
    invalid.append(row)
    return "skip"

  if not utf8.strip():
    return {name: pa.array([], pa.string()) for name in log.needed}
  table = pacsv.read_csv(
      io.BytesIO(utf8),
      read_options=pacsv.ReadOptions(
          column_names=list(header), use_threads=False,
          block_size=max(1 << 20, len(utf8) + 1)),
      parse_options=pacsv.ParseOptions(
          delimiter=delimiter, quote_char=log.quote or False,
          escape_char=log.escape or False, newlines_in_values=False,
          ignore_empty_lines=True, invalid_row_handler=on_invalid),
      convert_options=pacsv.ConvertOptions(
          include_columns=list(log.needed),
          column_types={name: pa.string() for name in log.needed},
          strings_can_be_null=False, quoted_strings_can_be_null=False))
  if invalid:
    raise ValueError("rows with a wrong number of fields")
  return {name: table.column(name).combine_chunks() for name in log.needed}


def _slow_parse(log, unit, data: bytes, first_line: int):
  """Line by line, naming each line that does not parse."""
  header = unit.header
  at = {name: header.index(name) for name in log.needed}
  values = {name: [] for name in log.needed}
  lines, bad = [], []
  for offset, raw in enumerate(data.split(b"\n")):
    number = first_line + offset
    try:
      line = raw.decode(log.encoding).rstrip("\r")
    except UnicodeDecodeError as e:
      bad.append(BadRow(unit.path, number, f"not valid {log.encoding} "
                        f"({e.reason} at byte {e.start}); expected "
                        f"{log.encoding}-encoded text"))
      continue
    if not line.strip():
      continue
    try:
      fields = _split_line(log, line)
    except csv.Error as e:
      bad.append(BadRow(unit.path, number, f"not a well-formed "
                        f"{log.delimiter!r}-separated record ({e})"))
      continue
    if len(fields) != len(header):
      bad.append(BadRow(
          unit.path, number, f"expected {len(header)} {log.delimiter!r}-"
          f"separated fields ({log.describe or ', '.join(header)}), got "
          f"{len(fields)}"))
      continue
    for name, k in at.items():
      values[name].append(fields[k])
    lines.append(number)
  columns = {name: pa.array(v, pa.string()) for name, v in values.items()}
  return columns, np.asarray(lines, dtype=np.int64), bad


def _numbers(column: pa.Array) -> Tuple[np.ndarray, np.ndarray]:
  """(float64 values, parsed) of a string or numeric column; a cell that
  is not a number is NaN and not parsed."""
  if isinstance(column, pa.ChunkedArray):
    column = column.combine_chunks()
  if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
    values = column.cast(pa.float64())
    parsed = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False))
    return values.fill_null(math.nan).to_numpy(zero_copy_only=False), parsed
  try:
    values = pc.cast(pc.if_else(pc.equal(column, ""),
                                pa.scalar(None, pa.string()), column),
                     pa.float64())
    parsed = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False))
    return values.fill_null(math.nan).to_numpy(zero_copy_only=False), parsed
  except pa.ArrowInvalid:
    out = np.full(len(column), math.nan)
    parsed = np.zeros(len(column), dtype=bool)
    for k, text in enumerate(column.to_pylist()):
      try:
        out[k] = float(text)
        parsed[k] = True
      except (TypeError, ValueError):
        pass
    return out, parsed


def _checked(log: InteractionLog, unit: Unit, columns, lines: np.ndarray,
             bad: List[BadRow]) -> UnitRows:
  """Checks ids, timestamps and ratings; the canonical rows that pass."""
  n = len(lines)
  keep = np.ones(n, dtype=bool)
  reasons: List[Tuple[int, str]] = []

  def reject(mask, reason_of):
    for row in np.flatnonzero(keep & mask):
      reasons.append((int(row), reason_of(int(row))))
    keep[mask] = False

  user = columns[log.user if log.format != ATOMIC else USER_ID]
  item = columns[log.item if log.format != ATOMIC else ITEM_ID]
  user, item = [c.combine_chunks() if isinstance(c, pa.ChunkedArray)
                else c for c in (user, item)]
  user, item = user.fill_null(""), item.fill_null("")
  if log.upper_items:
    item = pc.utf8_upper(pc.utf8_trim_whitespace(item))
  empty = np.asarray(pc.or_(pc.equal(user, ""), pc.equal(item, ""))
                     .to_numpy(zero_copy_only=False), dtype=bool)
  reject(empty, lambda row: f"field {log.user!r} or {log.item!r}: empty id; "
         "expected a user and an item id")
  dropped = 0
  if log.rating:
    raw = columns[log.rating]
    values, parsed = _numbers(raw)
    if log.rating_rule == RATING_EXPLICIT_0_10:
      whole = parsed & (values >= 0) & (values <= 10) & (
          np.floor(np.nan_to_num(values)) == values)
      reject(~whole, lambda row: f"field {log.rating!r}: expected 0-10, got "
             f"{raw[row].as_py()!r}")
      implicit = keep & (values == 0)
      dropped = int(implicit.sum())
      keep[implicit] = False
    else:
      fine = parsed & np.isfinite(values) & (values >= 0)
      reject(~fine, lambda row: f"field {log.rating!r}: expected a finite "
             f"number >= 0, got {raw[row].as_py()!r}")
  ts = None
  if log.has_timestamp:
    name = log.timestamp
    raw = columns[name if log.format != ATOMIC else TIMESTAMP]
    ts, parsed = _numbers(raw)
    if log.format == ATOMIC:
      reject(~parsed, lambda row: f"field {name!r}: empty; expected a number")
    fine = parsed & np.isfinite(ts) & (ts >= 0) & (ts < _MAX_TIMESTAMP)
    reject(~fine, lambda row: f"field {name!r}: expected a time since 1970, "
           f"a finite number from 0 to 2^63, got {raw[row].as_py()!r}")
  for row, reason in reasons:
    bad.append(BadRow(unit.path, int(lines[row]), reason))
  bad.sort(key=lambda b: b.line)
  position = (np.int64(unit.file_index) << FILE_SHIFT) + lines
  selection = pa.array(keep)
  rows = {USER_ID: user, ITEM_ID: item}
  if ts is not None:
    rows[TIMESTAMP] = pa.array(ts)
  rows[POSITION] = pa.array(position, pa.int64())
  out = UnitRows(pa.table(rows).filter(selection), bad, dropped)
  for side, ids, pairs in (("items", item, log.item_features),
                           ("users", user, log.user_features)):
    if pairs:
      setattr(out, side, _first_per_id(
          ids.filter(selection), position[keep],
          {c: columns[c].filter(selection) for c, _ in pairs}, pairs,
          log.list_separator))
  return out


def _first_per_id(ids: pa.Array, position: np.ndarray, cells, pairs,
                  list_separator: str) -> pa.Table:
  """The first row of each id (rows are in position order), its feature
  cells cleaned as atomic files hold them: a token with its whitespace
  runs collapsed, a token list split on the list separator and on
  whitespace."""
  codes = pc.dictionary_encode(ids).indices.to_numpy().astype(np.int64)
  _, first = np.unique(codes, return_index=True)
  take = pa.array(np.sort(first))
  table = {"id": ids.take(take), POSITION: pa.array(position[np.sort(first)],
                                                     pa.int64())}
  for column, kind in pairs:
    cell = cells[column].take(take).fill_null("")
    if kind == "token_seq":
      table[column] = atomic_columns.split_whitespace(
          pc.replace_substring(cell, list_separator, " "))
    else:
      table[column] = pc.binary_join(
          atomic_columns.split_whitespace(cell), " ")
  return pa.table(table)


def first_per_id(tables: Sequence[pa.Table]) -> Optional[pa.Table]:
  """Merges units' first rows: the first of each id over the whole log."""
  tables = [t for t in tables if t is not None]
  if not tables:
    return None
  merged = pa.concat_tables(tables)
  merged = merged.take(pc.sort_indices(merged, [(POSITION, "ascending")]))
  ids = merged.column("id").combine_chunks()
  codes = pc.dictionary_encode(ids).indices.to_numpy().astype(np.int64)
  _, first = np.unique(codes, return_index=True)
  return merged.take(pa.array(np.sort(first)))
