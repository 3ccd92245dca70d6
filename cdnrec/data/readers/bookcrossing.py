"""Book-Crossing (Ziegler et al. 2005): `BX-Book-Ratings.csv`, `BX-Books.csv`,
`BX-Users.csv`, `;`-separated, quoted, latin-1.

Features as the paper's Table 7: user location and age; item title
(tokens), author, year and publisher. Ratings 1-10 are explicit and are the
positives; a 0 is an implicit interaction and is dropped, as the paper uses
explicit ratings only (the report says how many). There are no timestamps,
so ExampleGen splits each user's items by a seeded random order. The real
files hold rows that break the quoting (escaped quotes inside titles) and
ratings of ISBNs missing from BX-Books.csv: both are bad rows, which a run
accepts with `--max-bad-rows`.
"""

import csv
import re

from cdnrec.core import atomic
from cdnrec.data import interaction_logs as logs
from cdnrec.data.readers import base

_WORD = re.compile(r"[a-z0-9]+")

ITEM_FIELDS = (atomic.Field("title", atomic.FieldType.TOKEN_SEQ),
               atomic.Field("author", atomic.FieldType.TOKEN),
               atomic.Field("year", atomic.FieldType.TOKEN),
               atomic.Field("publisher", atomic.FieldType.TOKEN))
USER_FIELDS = (atomic.Field("location", atomic.FieldType.TOKEN),
               atomic.Field("age", atomic.FieldType.TOKEN))


def _rows(path, header, bad):
  base.decode_check(path, "latin-1")
  with base.open_text(path, "latin-1") as f:
    reader = csv.reader(f, delimiter=";", quotechar='"', escapechar="\\")
    records = base.csv_records(reader, path)
    first = next(records, None)
    if first is None or first[:len(header)] != list(header):
      raise base.DataFormatError(
          f"{path}, line 1: header {first} is not {list(header)}; expected "
          "the BX layout (';'-separated, quoted)")
    for record in records:
      number = reader.line_num
      if not record:
        continue
      if len(record) != len(first):
        bad.add(path, number, f"expected {len(first)} ';'-separated quoted "
                f"fields {first}, got {len(record)}")
        continue
      yield number, record


def _token(text: str) -> str:
  return "_".join(_WORD.findall(text.lower()))


class BookCrossing(base.LogReader):
  name = "bookcrossing"
  files = ("BX-Book-Ratings.csv", "BX-Books.csv", "BX-Users.csv")
  dropped_note = ("{n} implicit (0) ratings dropped: only explicit ratings "
                  "are positives")

  def interaction_log(self, source_dir):
    ratings = base.require_file(source_dir, "BX-Book-Ratings.csv",
                                "rating file (User-ID;ISBN;Book-Rating)")
    return logs.InteractionLog(
        "bookcrossing", (ratings,), logs.TEXT, user="User-ID", item="ISBN",
        rating="Book-Rating", rating_rule=logs.RATING_EXPLICIT_0_10,
        delimiter=";", escape="\\", encoding="latin-1", upper_items=True)

  def read_sides(self, source_dir, bad):
    tables = base.Tables("bookcrossing", ITEM_FIELDS, USER_FIELDS)
    books = base.require_file(source_dir, "BX-Books.csv", "book file")
    users = base.require_file(source_dir, "BX-Users.csv", "user file")
    for number, r in _rows(books, ("ISBN", "Book-Title", "Book-Author",
                                   "Year-Of-Publication", "Publisher"), bad):
      year = r[3] if r[3].isdigit() and r[3] != "0" else ""
      base.add_side_row(tables.items, r[0].strip().upper(), {
          "title": _WORD.findall(r[1].lower()), "author": _token(r[2]),
          "year": year, "publisher": _token(r[4])}, bad, books, number,
                        "ISBN")
    for number, r in _rows(users, ("User-ID", "Location", "Age"), bad):
      age = r[2] if r[2].isdigit() else ""
      base.add_side_row(tables.users, r[0], {"location": _token(r[1]),
                                             "age": age}, bad, users, number,
                        "User-ID")
    return tables
