"""RecBole atomic files: the on-disk layout the pipeline ingests.

A dataset is a folder holding `<name>.inter` and optionally `<name>.item` and
`<name>.user`. Each is tab-separated with a header line of `field:type`
columns, where type is one of `token`, `token_seq` (space-separated tokens),
`float` or `float_seq`. The synthetic generator writes this layout, so the
embedded default and real RecBole data go through one reader.
"""

import dataclasses
import enum
import os
from typing import Iterable, Iterator, Optional, Sequence, Tuple


class FieldType(str, enum.Enum):
  TOKEN = "token"
  TOKEN_SEQ = "token_seq"
  FLOAT = "float"
  FLOAT_SEQ = "float_seq"


@dataclasses.dataclass(frozen=True)
class Field:
  name: str
  type: FieldType

  @property
  def header(self) -> str:
    return f"{self.name}:{self.type.value}"


class DataFormatError(ValueError):
  """Bad input data; the message names the file, line and field."""


@dataclasses.dataclass(frozen=True)
class AtomicDataset:
  """Where a dataset's atomic files are and what columns they hold."""
  name: str
  inter_path: str
  item_path: Optional[str]
  user_path: Optional[str]
  inter_fields: Tuple[Field, ...]
  item_fields: Tuple[Field, ...]
  user_fields: Tuple[Field, ...]

  @property
  def has_timestamp(self) -> bool:
    return any(f.name == "timestamp" for f in self.inter_fields)


def parse_header(line: str, path: str) -> Tuple[Field, ...]:
  """Parses a `name:type<TAB>name:type` header line."""
  fields = []
  allowed = [t.value for t in FieldType]
  for column, cell in enumerate(line.rstrip("\r\n").split("\t"), start=1):
    name, sep, type_name = cell.rpartition(":")
    if not sep or not name:
      raise DataFormatError(
          f"{path}, line 1, column {column}: header cell {cell!r} must look "
          f"like 'name:type' with type one of {allowed} (is the file "
          "tab-separated?)")
    if type_name not in allowed:
      raise DataFormatError(
          f"{path}, line 1, column {column}: field {name!r} has type "
          f"{type_name!r}; expected one of {allowed}")
    fields.append(Field(name, FieldType(type_name)))
  names = [f.name for f in fields]
  duplicates = sorted({n for n in names if names.count(n) > 1})
  if duplicates:
    raise DataFormatError(f"{path}, line 1: duplicate fields {duplicates}")
  return tuple(fields)


def read_header(path: str) -> Tuple[Field, ...]:
  with open(path, encoding="utf-8") as f:
    line = f.readline()
  if not line.strip():
    raise DataFormatError(f"{path}: the file is empty; expected a header "
                          "line of 'name:type' columns")
  return parse_header(line, path)


def _require(fields: Sequence[Field], name: str, path: str,
             type_: FieldType = FieldType.TOKEN) -> None:
  for f in fields:
    if f.name == name:
      if f.type != type_:
        raise DataFormatError(f"{path}, line 1: field {name!r} must have type "
                              f"{type_.value!r}, not {f.type.value!r}")
      return
  raise DataFormatError(f"{path}, line 1: missing required field "
                        f"'{name}:{type_.value}' (found "
                        f"{[f.header for f in fields]})")


def locate(data_dir: str) -> AtomicDataset:
  """Finds and checks the atomic files of the dataset in `data_dir`."""
  if not os.path.isdir(data_dir):
    raise DataFormatError(f"{data_dir}: no such directory; expected a folder "
                          "holding <name>.inter and optionally <name>.item, "
                          "<name>.user")
  inters = sorted(f for f in os.listdir(data_dir) if f.endswith(".inter"))
  if len(inters) != 1:
    raise DataFormatError(
        f"{data_dir}: expected exactly one '<name>.inter' file, found "
        f"{inters or 'none'}")
  name = inters[0][:-len(".inter")]
  inter_path = os.path.join(data_dir, inters[0])
  item_path = os.path.join(data_dir, name + ".item")
  user_path = os.path.join(data_dir, name + ".user")
  item_path = item_path if os.path.exists(item_path) else None
  user_path = user_path if os.path.exists(user_path) else None

  inter_fields = read_header(inter_path)
  _require(inter_fields, "user_id", inter_path)
  _require(inter_fields, "item_id", inter_path)
  if any(f.name == "timestamp" for f in inter_fields):
    _require(inter_fields, "timestamp", inter_path, FieldType.FLOAT)
  item_fields: Tuple[Field, ...] = ()
  user_fields: Tuple[Field, ...] = ()
  if item_path:
    item_fields = read_header(item_path)
    _require(item_fields, "item_id", item_path)
  if user_path:
    user_fields = read_header(user_path)
    _require(user_fields, "user_id", user_path)
  return AtomicDataset(name, inter_path, item_path, user_path, inter_fields,
                       item_fields, user_fields)


def parse_row(line: str, fields: Sequence[Field], path: str,
              line_number: int) -> dict:
  """Parses one data line into {field name: value}.

  token -> str, token_seq -> list of str, float -> float or None when empty,
  float_seq -> list of float.
  """
  cells = line.rstrip("\r\n").split("\t")
  if len(cells) != len(fields):
    raise DataFormatError(
        f"{path}, line {line_number}: expected {len(fields)} tab-separated "
        f"fields {[f.name for f in fields]}, got {len(cells)}")
  row = {}
  for field, cell in zip(fields, cells):
    if field.type == FieldType.TOKEN:
      row[field.name] = cell
    elif field.type == FieldType.TOKEN_SEQ:
      row[field.name] = cell.split()
    else:
      try:
        if field.type == FieldType.FLOAT:
          row[field.name] = float(cell) if cell.strip() else None
        else:
          row[field.name] = [float(v) for v in cell.split()]
      except ValueError:
        raise DataFormatError(
            f"{path}, line {line_number}, field {field.name!r}: expected "
            f"{field.type.value}, got {cell!r}") from None
  return row


def read_numbered_lines(path: str) -> Iterator[Tuple[int, str]]:
  """Yields (1-based line number, line) for every non-blank data line."""
  with open(path, encoding="utf-8") as f:
    for number, line in enumerate(f, start=1):
      if number == 1 or not line.strip():
        continue
      yield number, line


def _format_cell(value, field: Field) -> str:
  if field.type in (FieldType.TOKEN_SEQ, FieldType.FLOAT_SEQ):
    return " ".join(str(v) for v in value)
  return str(value)


def write_atomic(path: str, fields: Sequence[Field],
                 rows: Iterable[Sequence]) -> None:
  """Writes an atomic file; written to a temp name first, then renamed."""
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write("\t".join(fld.header for fld in fields) + "\n")
    for row in rows:
      f.write("\t".join(_format_cell(v, fld) for v, fld in zip(row, fields)))
      f.write("\n")
  os.replace(tmp, path)

