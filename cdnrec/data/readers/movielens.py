"""MovieLens in its GroupLens layouts: 100K, 1M and the CSV releases
(ml-latest, ml-latest-small, 20M, 25M, 32M).

Features follow the paper's Table 7: user gender, occupation, zip code and
age; item title (tokens), genres and year (parsed from the title).
"""

import csv
import re
from typing import List, Tuple

from cdnrec.core import atomic
from cdnrec.data import interaction_logs as logs
from cdnrec.data.readers import base

GENRES_100K = ("unknown", "Action", "Adventure", "Animation", "Children's",
               "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
               "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
               "Sci-Fi", "Thriller", "War", "Western")
_YEAR = re.compile(r"\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
_WORD = re.compile(r"[a-z0-9]+")

ITEM_FIELDS = (atomic.Field("title", atomic.FieldType.TOKEN_SEQ),
               atomic.Field("genres", atomic.FieldType.TOKEN_SEQ),
               atomic.Field("year", atomic.FieldType.TOKEN))
USER_FIELDS = (atomic.Field("gender", atomic.FieldType.TOKEN),
               atomic.Field("occupation", atomic.FieldType.TOKEN),
               atomic.Field("zip", atomic.FieldType.TOKEN),
               atomic.Field("age", atomic.FieldType.TOKEN))


def title_year(title: str) -> Tuple[List[str], str]:
  """('Toy Story (1995)') -> (['toy', 'story'], '1995')."""
  match = _YEAR.search(title)
  year = match.group(1) if match else ""
  bare = title[:match.start()] if match else title
  return _WORD.findall(bare.lower()), year


def _genre_tokens(genres: List[str]) -> List[str]:
  return [g.replace(" ", "_") for g in genres
          if g and g != "(no genres listed)"]


def _split_lines(path: str, separator: str, encoding: str, columns: int,
                 names: str, bad: base.BadRows):
  """(line number, fields) of each well-formed line of a separated file."""
  base.decode_check(path, encoding)
  with base.open_text(path, encoding) as f:
    for number, line in enumerate(f, start=1):
      line = line.rstrip("\r\n")
      if not line.strip():
        continue
      fields = line.split(separator)
      if len(fields) != columns:
        bad.add(path, number, f"expected {columns} {separator!r}-separated "
                f"fields ({names}), got {len(fields)}")
        continue
      yield number, fields


class MovieLens100K(base.LogReader):
  name = "movielens-100k"
  files = ("u.data", "u.item", "u.user")

  def interaction_log(self, source_dir):
    ratings = base.require_file(source_dir, "u.data", "rating file "
                                "(user<TAB>item<TAB>rating<TAB>timestamp)")
    return logs.InteractionLog(
        "ml-100k", (ratings,), logs.TEXT, user="user", item="item",
        timestamp="timestamp", rating="rating",
        columns=("user", "item", "rating", "timestamp"), delimiter="\t",
        quote=None, encoding="latin-1",
        describe="user, item, rating, timestamp")

  def read_sides(self, source_dir, bad):
    tables = base.Tables("ml-100k", ITEM_FIELDS, USER_FIELDS)
    items = base.require_file(source_dir, "u.item", "movie file")
    users = base.require_file(source_dir, "u.user", "user file")
    for number, f in _split_lines(items, "|", "latin-1", 24,
                                  "id|title|release|video|url|19 genre flags",
                                  bad):
      flags = f[5:]
      if any(v not in ("0", "1") for v in flags):
        bad.add(items, number, "genre flags: expected 19 values of 0 or 1")
        continue
      words, year = title_year(f[1])
      genres = [g for g, v in zip(GENRES_100K, flags) if v == "1"]
      base.add_side_row(tables.items, f[0], {
          "title": words, "genres": _genre_tokens(genres),
          "year": year or f[2][-4:]}, bad, items, number, "movie id")
    for number, f in _split_lines(users, "|", "latin-1", 5,
                                  "id|age|gender|occupation|zip", bad):
      base.add_side_row(tables.users, f[0], {
          "age": f[1], "gender": f[2], "occupation": f[3], "zip": f[4]},
                        bad, users, number, "user id")
    return tables


class MovieLens1M(base.LogReader):
  name = "movielens-1m"
  files = ("ratings.dat", "movies.dat", "users.dat")

  def interaction_log(self, source_dir):
    ratings = base.require_file(source_dir, "ratings.dat",
                                "rating file (UserID::MovieID::Rating::"
                                "Timestamp)")
    return logs.InteractionLog(
        "ml-1m", (ratings,), logs.TEXT, user="UserID", item="MovieID",
        timestamp="Timestamp", rating="Rating",
        columns=("UserID", "MovieID", "Rating", "Timestamp"), delimiter="::",
        quote=None, encoding="latin-1",
        describe="UserID::MovieID::Rating::Timestamp")

  def read_sides(self, source_dir, bad):
    tables = base.Tables("ml-1m", ITEM_FIELDS, USER_FIELDS)
    movies = base.require_file(source_dir, "movies.dat", "movie file")
    users = base.require_file(source_dir, "users.dat", "user file")
    for number, f in _split_lines(movies, "::", "latin-1", 3,
                                  "MovieID::Title::Genres", bad):
      words, year = title_year(f[1])
      base.add_side_row(tables.items, f[0], {
          "title": words, "year": year,
          "genres": _genre_tokens(f[2].split("|"))}, bad, movies, number,
                        "MovieID")
    for number, f in _split_lines(users, "::", "latin-1", 5,
                                  "UserID::Gender::Age::Occupation::Zip-code",
                                  bad):
      base.add_side_row(tables.users, f[0], {
          "gender": f[1], "age": f[2], "occupation": f[3], "zip": f[4]},
                        bad, users, number, "UserID")
    return tables


def _csv_rows(path: str, expected: Tuple[str, ...], bad: base.BadRows):
  """(line number, dict) per CSV record, checking the header."""
  base.decode_check(path, "utf-8")
  with base.open_text(path, "utf-8") as f:
    reader = csv.reader(f)
    records = base.csv_records(reader, path)
    header = next(records, None)
    if header is None or any(c not in header for c in expected):
      raise base.DataFormatError(
          f"{path}, line 1: header {header} lacks columns "
          f"{[c for c in expected if c not in (header or [])]}; expected a "
          f"comma-separated header with {list(expected)}")
    for record in records:
      number = reader.line_num
      if not record:
        continue
      if len(record) != len(header):
        bad.add(path, number, f"expected {len(header)} comma-separated "
                f"fields {header}, got {len(record)}")
        continue
      yield number, dict(zip(header, record))


class MovieLensCsv(base.LogReader):
  """ml-latest(-small), 20M, 25M, 32M: no user file, so no user features."""
  name = "movielens-csv"
  files = ("ratings.csv", "movies.csv")
  notes = ("no user file in this layout: users have ids only",)

  def interaction_log(self, source_dir):
    ratings = base.require_file(source_dir, "ratings.csv", "rating file "
                                "(userId,movieId,rating,timestamp)")
    return logs.InteractionLog(
        "ml-csv", (ratings,), logs.TEXT, user="userId", item="movieId",
        timestamp="timestamp", rating="rating")

  def read_sides(self, source_dir, bad):
    tables = base.Tables("ml-csv", ITEM_FIELDS, ())
    movies = base.require_file(source_dir, "movies.csv", "movie file "
                               "(movieId,title,genres)")
    for number, r in _csv_rows(movies, ("movieId", "title", "genres"), bad):
      words, year = title_year(r["title"])
      base.add_side_row(tables.items, r["movieId"], {
          "title": words, "year": year,
          "genres": _genre_tokens(r["genres"].split("|"))}, bad, movies,
                        number, "movieId")
    return tables
