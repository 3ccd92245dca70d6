"""tf.Example encoding and the Examples-artifact layout shared by components."""

import os
from typing import Dict, Iterable, List, Optional

import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils

from cdnrec.core import features as F

SPLITS = ("train", "eval", "test")
FILE_PREFIX = "data_tfrecord"


def split_dir(examples_uri: str, split: str) -> str:
  return os.path.join(examples_uri, f"Split-{split}")


def split_pattern(examples_uri: str, split: str) -> str:
  return os.path.join(split_dir(examples_uri, split), "*.gz")


def mark_examples(examples, splits: Iterable[str]) -> None:
  """Sets the properties downstream TFX components read off Examples."""
  examples.split_names = artifact_utils.encode_split_names(list(splits))
  examples_utils.set_payload_format(examples,
                                    example_gen_pb2.FORMAT_TF_EXAMPLE)


def _bytes(values: Iterable[str]) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(
      value=[v.encode("utf-8") for v in values]))


def _int(value: int) -> tf.train.Feature:
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _float(value: float) -> tf.train.Feature:
  return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))


def encode_features(row: Dict, features: List[F.Feature]) -> Dict[str, tf.train.Feature]:
  """Encodes source-file values of `features` as tf.train.Features.

  Missing values (an empty token, an empty list, a None float) are left out;
  the model's input parsing gives them defaults that land in OOV buckets.
  """
  out = {}
  for feature in features:
    value = row.get(feature.source)
    if feature.kind == F.Kind.CATEGORICAL:
      if value:
        out[feature.name] = _bytes([value])
    elif feature.kind == F.Kind.CATEGORICAL_LIST:
      if value:
        out[feature.name] = _bytes(value)
    elif value is not None:
      out[feature.name] = _float(value)
  return out


def interaction_example(user_id: str, item_id: str, timestamp: Optional[float],
                        item_index: int, user_features: Dict[str, tf.train.Feature],
                        item_features: Dict[str, tf.train.Feature]) -> bytes:
  feature = {F.USER_ID: _bytes([user_id]), F.ITEM_ID: _bytes([item_id]),
             F.ITEM_INDEX: _int(item_index)}
  if timestamp is not None:
    feature[F.TIMESTAMP] = _int(int(round(timestamp)))
  feature.update(user_features)
  feature.update(item_features)
  return tf.train.Example(features=tf.train.Features(
      feature=feature)).SerializeToString()


def catalog_example(item_id: str, item_index: int,
                    item_features: Dict[str, tf.train.Feature]) -> bytes:
  feature = {F.ITEM_ID: _bytes([item_id]), F.ITEM_INDEX: _int(item_index)}
  feature.update(item_features)
  return tf.train.Example(features=tf.train.Features(
      feature=feature)).SerializeToString()


def read_id_and_index(serialized: bytes):
  """(item_id, item_index, user_id or None) of a serialized example."""
  example = tf.train.Example.FromString(serialized)
  f = example.features.feature
  user = f[F.USER_ID].bytes_list.value[0].decode() if F.USER_ID in f else None
  return (f[F.ITEM_ID].bytes_list.value[0].decode(),
          f[F.ITEM_INDEX].int64_list.value[0], user)
