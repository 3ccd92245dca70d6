"""MovieLens from an already prepared TensorFlow Datasets data dir
(`movielens/100k-ratings`, `movielens/1m-ratings`, ...). Never downloads:
the data must have been prepared with `tfds build` beforehand."""

import os

from cdnrec.data.readers import base
from cdnrec.data.readers import movielens

DEFAULT_NAME = "movielens/100k-ratings"


class Tfds(base.Reader):
  name = "tfds"
  files = ("<data dir>/movielens/<config>/<version>/",)

  def __init__(self, dataset: str = DEFAULT_NAME):
    if not dataset.startswith("movielens/") or not dataset.endswith(
        "-ratings"):
      raise base.DataFormatError(
          f"tfds dataset {dataset!r}: expected movielens/<config>-ratings, "
          "e.g. movielens/100k-ratings")
    self._dataset = dataset

  def read(self, source_dir, options):
    import tensorflow_datasets as tfds
    builder = tfds.builder(self._dataset, data_dir=source_dir)
    if not os.path.isdir(builder.data_dir):
      raise base.DataFormatError(
          f"{builder.data_dir}: {self._dataset} is not prepared in "
          f"{source_dir}; prepare it first (tfds build {self._dataset} "
          f"--data_dir {source_dir}): cdnrec never downloads data")
    bad = base.BadRows(options)
    tables = base.Tables(self._dataset.replace("/", "-"),
                         movielens.ITEM_FIELDS, movielens.USER_FIELDS)
    where = f"{builder.data_dir} (tfds train split)"
    genre_names = builder.info.features["movie_genres"].feature.int2str
    for number, ex in enumerate(tfds.as_numpy(builder.as_dataset(
        split="train")), start=1):
      text = lambda k: (ex[k].decode("utf-8", "replace")
                        if isinstance(ex.get(k), bytes) else str(ex.get(k, "")))
      user, item = text("user_id"), text("movie_id")
      words, year = movielens.title_year(text("movie_title"))
      genres = [genre_names(int(g)).replace(" ", "_")
                for g in ex.get("movie_genres", [])]
      tables.items.setdefault(item, {"title": words, "year": year,
                                     "genres": genres})
      tables.users.setdefault(user, {
          "gender": "F" if not ex.get("user_gender", True) else "M",
          "occupation": text("user_occupation_text"),
          "zip": text("user_zip_code"),
          "age": str(int(ex["bucketized_user_age"]))})
      tables.interactions.append((user, item, float(ex["timestamp"]), where,
                                  number))
    return base.finish(tables, bad)
