"""What every dataset reader shares: options, bad-row accounting, and the
canonical RecBole atomic files.

A reader describes a source layout (MovieLens, BookCrossing, a plain
table...) in two parts: its interaction log (interaction_logs.InteractionLog,
which ExampleGen's Beam workers read unit by unit) and its side files of
item and user features, which grow with the catalog, not with the log, and
are read whole here (read_sides) and written as `<name>.item` and
`<name>.user`. `Reader.read` reads both in one process, for `cdnrec stats`
and the experiment harness. Files are written to a temporary folder and
renamed into place whole, so a failed or interrupted conversion never
leaves files a later run could take for complete.
"""

import abc
import codecs
import csv
import dataclasses
import os
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

from cdnrec.core import atomic
from cdnrec.data import interaction_logs

DataFormatError = atomic.DataFormatError
SHOWN_BAD_ROWS = 5
# Side files may hold long text (descriptions, titles): Python's csv module
# refuses fields over 128 KiB by default.
csv.field_size_limit(64 << 20)


@dataclasses.dataclass(frozen=True)
class ReadOptions:
  """Args:
    max_bad_rows: malformed or dangling rows tolerated (skipped and counted)
      before the read fails. 0: any bad row fails it.
  """
  max_bad_rows: int = 0


class BadRows:
  """Counts skipped rows and keeps the first few for the error/report."""

  def __init__(self, options: ReadOptions):
    self._limit = options.max_bad_rows
    self.count = 0
    self.examples: List[str] = []

  def add(self, path: str, line: int, reason: str) -> None:
    self.count += 1
    if len(self.examples) < SHOWN_BAD_ROWS:
      self.examples.append(f"{path}, line {line}: {reason}")
    if self.count > self._limit:
      shown = "\n  ".join(self.examples)
      raise DataFormatError(
          f"{self.count} bad row(s), more than --max-bad-rows="
          f"{self._limit}; first ones:\n  {shown}")


@dataclasses.dataclass
class Tables:
  """A dataset in memory, in the canonical shape.

  interactions: (user_id, item_id, timestamp or None, source path, line).
  items / users: id -> {column: value}; values are str, or list of str for
    token_seq columns.
  """
  name: str
  item_fields: Sequence[atomic.Field]
  user_fields: Sequence[atomic.Field]
  interactions: List[Tuple[str, str, Optional[float], str, int]] = (
      dataclasses.field(default_factory=list))
  items: Dict[str, Dict] = dataclasses.field(default_factory=dict)
  users: Dict[str, Dict] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Report:
  """What a conversion read, kept and dropped."""
  interactions: int
  users: int
  items: int
  bad_rows: int
  bad_examples: Tuple[str, ...]
  duplicates: int
  notes: Tuple[str, ...] = ()


def require_file(directory: str, name: str, what: str) -> str:
  path = os.path.join(directory, name)
  if not os.path.isfile(path):
    raise DataFormatError(f"{path}: missing; the {what} is expected there")
  return path


def open_text(path: str, encoding: str):
  return open(path, encoding=encoding, newline="")


def add_side_row(target: Dict[str, Dict], key: str, values: Dict,
                 bad: BadRows, path: str, line: int, field: str) -> None:
  """target[key] = values, unless key has a row already: then a bad row
  (the first row is kept)."""
  if key in target:
    bad.add(path, line, f"field {field!r}: {key!r} appears again; expected "
            "one row per id")
    return
  target[key] = values


def check_encoding(encoding: str, where: str) -> None:
  try:
    codecs.lookup(encoding)
  except LookupError:
    raise DataFormatError(f"{where}: encoding {encoding!r} is not one "
                          "Python knows; expected e.g. utf-8 or latin-1"
                          ) from None
  if "\n,".encode(encoding, errors="replace") != b"\n,":
    # Logs are cut into byte ranges at newline bytes.
    raise DataFormatError(f"{where}: encoding {encoding!r} does not write "
                          "newlines and commas as single bytes; expected an "
                          "ASCII-compatible one, e.g. utf-8 or latin-1")


def csv_records(reader, path: str):
  """The records of a csv.reader; a record the csv module cannot read (a
  NUL byte, a field over its limit) fails naming its line."""
  while True:
    try:
      record = next(reader)
    except StopIteration:
      return
    except csv.Error as e:
      raise DataFormatError(f"{path}, line {reader.line_num}: {e}; expected "
                            "a well-formed delimited record") from None
    yield record


def decode_check(path: str, encoding: str) -> None:
  """Fails early, naming the line, when a file is not in `encoding`."""
  with open(path, "rb") as f:
    for number, raw in enumerate(f, start=1):
      try:
        raw.decode(encoding)
      except UnicodeDecodeError as e:
        raise DataFormatError(
            f"{path}, line {number}: not valid {encoding} ({e.reason} at "
            f"byte {e.start}); expected {encoding}-encoded text") from None


def finish(tables: Tables, bad: BadRows,
           notes: Sequence[str] = ()) -> Tuple[Tables, Report]:
  """Drops interactions whose user or item has no row (bad rows) and
  duplicate (user, item) pairs beyond the latest (bad rows too), and
  refuses an empty result."""
  kept: Dict[Tuple[str, str], Tuple] = {}
  duplicates = 0
  for row in tables.interactions:
    user, item, ts, path, line = row
    if tables.items and item not in tables.items:
      bad.add(path, line, f"field 'item_id': item {item!r} is not in the "
              "item file")
      continue
    if tables.users and user not in tables.users:
      bad.add(path, line, f"field 'user_id': user {user!r} is not in the "
              "user file")
      continue
    key = (user, item)
    if key in kept:
      duplicates += 1
      first = kept[key]
      bad.add(path, line, f"duplicate interaction ({user!r}, {item!r}), "
              f"first at line {first[4]}; the latest is kept")
      if (ts or 0.0) < (first[2] or 0.0):
        continue
    kept[key] = row
  tables.interactions = sorted(kept.values(), key=lambda r: (r[3], r[4]))
  if not tables.interactions:
    raise DataFormatError(
        f"{tables.name}: no interactions left after filtering "
        f"({bad.count} bad rows); expected at least one valid rating")
  report = Report(
      interactions=len(tables.interactions),
      users=len({r[0] for r in tables.interactions}),
      items=len({r[1] for r in tables.interactions}),
      bad_rows=bad.count, bad_examples=tuple(bad.examples),
      duplicates=duplicates, notes=tuple(notes))
  return tables, report


def write(tables: Tables, out_dir: str,
          interactions: bool = True) -> Tuple[Optional[str], Optional[str]]:
  """Writes the atomic files (the .inter file too unless interactions is
  False); out_dir appears whole or not at all. Returns the paths of the item
  and user files (None where there is none)."""
  parent = os.path.dirname(os.path.abspath(out_dir))
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(prefix=".staging-", dir=parent)
  try:
    has_ts = any(r[2] is not None for r in tables.interactions)
    written = {}
    inter_fields = [atomic.Field("user_id", atomic.FieldType.TOKEN),
                    atomic.Field("item_id", atomic.FieldType.TOKEN)]
    if has_ts:
      inter_fields.append(atomic.Field("timestamp", atomic.FieldType.FLOAT))
    if interactions:
      atomic.write_atomic(
          os.path.join(staging, f"{tables.name}.inter"), inter_fields,
          ((u, i, ts) if has_ts else (u, i)
           for u, i, ts, _, _ in tables.interactions))
    for suffix, fields, rows, key in (
        ("item", tables.item_fields, tables.items, "item_id"),
        ("user", tables.user_fields, tables.users, "user_id")):
      if not rows:
        continue
      full = [atomic.Field(key, atomic.FieldType.TOKEN)] + list(fields)
      written[suffix] = os.path.join(out_dir, f"{tables.name}.{suffix}")
      atomic.write_atomic(
          os.path.join(staging, f"{tables.name}.{suffix}"), full,
          ([ident] + [_clean(values.get(f.name), f) for f in fields]
           for ident, values in rows.items()))
    if os.path.exists(out_dir):
      shutil.rmtree(out_dir)
    os.replace(staging, out_dir)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return written.get("item"), written.get("user")


def _clean(value, field: atomic.Field):
  """Tabs and newlines would break the atomic format; tokens lose them."""
  if field.type == atomic.FieldType.TOKEN_SEQ:
    return [t for v in (value or []) for t in str(v).split()]
  text = "" if value is None else str(value)
  return " ".join(text.split())


class Reader(abc.ABC):
  """Reads one source layout into Tables."""

  name: str = ""
  # Files in the source folder, for error messages and `--help`.
  files: Tuple[str, ...] = ()

  @abc.abstractmethod
  def read(self, source_dir: str, options: ReadOptions) -> Tuple[Tables,
                                                                 Report]:
    """The whole dataset in this process, and what was dropped; raises
    DataFormatError."""


class LogReader(Reader):
  """A layout whose interaction log ExampleGen's workers read in parallel
  (interaction_log), with side files read whole (read_sides)."""

  # What the report says about every read of this layout.
  notes: Tuple[str, ...] = ()
  # The note for rows the log drops on purpose ("{n}" is their count).
  dropped_note: str = ""

  @abc.abstractmethod
  def interaction_log(self, source_dir: str
                      ) -> interaction_logs.InteractionLog:
    """Where the log is and how to read it; raises DataFormatError."""

  @abc.abstractmethod
  def read_sides(self, source_dir: str, bad: BadRows) -> Tables:
    """The item and user files, read whole (no interactions)."""

  def read(self, source_dir: str, options: ReadOptions
           ) -> Tuple[Tables, Report]:
    """Through the same parser as ExampleGen's workers."""
    log = self.interaction_log(source_dir)
    bad = BadRows(options)
    tables = self.read_sides(source_dir, bad)
    units = interaction_logs.units(log)
    counts = [interaction_logs.count_rows(u, log) for u in units]
    dropped = 0
    inline = {"items": [], "users": []}
    for unit in units:
      got = interaction_logs.read_unit(
          log, unit, interaction_logs.rows_before(unit, counts))
      for b in got.bad:
        bad.add(b.path, b.line, b.reason)
      dropped += got.dropped
      inline["items"].append(got.items)
      inline["users"].append(got.users)
      rows = got.rows
      ts = (rows.column(interaction_logs.TIMESTAMP).to_pylist()
            if log.has_timestamp else [None] * rows.num_rows)
      for user, item, t, position in zip(
          rows.column(interaction_logs.USER_ID).to_pylist(),
          rows.column(interaction_logs.ITEM_ID).to_pylist(), ts,
          rows.column(interaction_logs.POSITION).to_pylist()):
        tables.interactions.append((user, item, t,
                                    *log.describe_position(position)))
    for side, target in (("items", tables.items), ("users", tables.users)):
      first = interaction_logs.first_per_id(inline[side])
      if first is None:
        continue
      columns = [c for c in first.column_names
                 if c not in ("id", interaction_logs.POSITION)]
      values = {c: first.column(c).to_pylist() for c in columns}
      for k, ident in enumerate(first.column("id").to_pylist()):
        target[ident] = {c: values[c][k] for c in columns}
    notes = list(self.notes)
    if self.dropped_note:
      notes.append(self.dropped_note.format(n=dropped))
    return finish(tables, bad, notes)
