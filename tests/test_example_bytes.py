"""The TFRecord writer framed and compressed here writes what TensorFlow's
own writer writes: the same bytes once un-gzipped, read back by tf.data."""

import gzip

import pytest
import tensorflow as tf

from cdnrec.core import example_bytes

# Lengths that cover an empty record, one-byte varints, and a record too
# long for the cached varints.
RECORDS = [b"", b"a", b"\x00\xff" * 70, b"z" * 20000, b"a", b"abc" * 9]


def _tensorflow_framing(tmp_path, records):
  path = str(tmp_path / "reference.tfrecord")
  with tf.io.TFRecordWriter(path) as writer:
    for r in records:
      writer.write(r)
  with open(path, "rb") as f:
    return f.read()


@pytest.mark.parametrize("records", [RECORDS, [], RECORDS * 20000])
def test_write_tfrecords_writes_what_tensorflow_writes(tmp_path, records):
  path = str(tmp_path / "ours.gz")
  assert example_bytes.write_tfrecords(path, records) == len(records)
  with gzip.open(path) as f:
    assert f.read() == _tensorflow_framing(tmp_path, records)
  read = [r.numpy() for r in tf.data.TFRecordDataset(
      path, compression_type="GZIP")]
  assert read == records


def test_write_examples_frames_rows_as_tfrecords(tmp_path):
  path = str(tmp_path / "rows.gz")
  columns = [[b"ab", b"", b"x" * 300], [b"c", b"d", b""]]
  rows = [a + b for a, b in zip(*columns)]
  assert example_bytes.write_examples(path, columns, wrap=False) == 3
  with gzip.open(path) as f:
    assert f.read() == _tensorflow_framing(tmp_path, rows)
