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


def test_write_examples_frames_rows_as_tfrecords(tmp_path):
  path = str(tmp_path / "rows.gz")
  columns = [[b"ab", b"", b"x" * 300], [b"c", b"d", b""]]
  rows = [a + b for a, b in zip(*columns)]
  assert example_bytes.write_examples(path, columns, wrap=False) == 3
  with gzip.open(path) as f:
    assert f.read() == _tensorflow_framing(tmp_path, rows)


def _tensorflow_gzip(tmp_path, records, name="source.gz"):
  path = str(tmp_path / name)
  options = tf.io.TFRecordOptions(compression_type="GZIP")
  with tf.io.TFRecordWriter(path, options) as writer:
    for r in records:
      writer.write(r)
  return path


# Small read sizes put record boundaries, and lengths, across reads.
@pytest.mark.parametrize("read", [7, 1000, 1 << 26])
def test_copy_records_keeps_the_chosen_records_as_tensorflow_framed_them(
    tmp_path, monkeypatch, read):
  monkeypatch.setattr(example_bytes, "_READ", read)
  records = RECORDS * 50
  keep = [i % 3 != 1 for i in range(len(records))]
  kept = [r for r, k in zip(records, keep) if k]
  dest = str(tmp_path / "dest.gz")
  assert example_bytes.copy_records(
      _tensorflow_gzip(tmp_path, records), dest,
      [len(r) for r in records], keep) == len(kept)
  with gzip.open(dest) as f:
    assert f.read() == _tensorflow_framing(tmp_path, kept)


def test_copy_records_of_nothing_writes_an_empty_file(tmp_path):
  dest = str(tmp_path / "dest.gz")
  source = _tensorflow_gzip(tmp_path, RECORDS)
  assert example_bytes.copy_records(source, dest, [len(r) for r in RECORDS],
                                    [False] * len(RECORDS)) == 0
  assert [r for r in tf.data.TFRecordDataset(dest, "GZIP")] == []


@pytest.mark.parametrize("lengths, message", [
    ([len(r) for r in RECORDS[:-1]], "the file changed between reads"),
    ([len(r) for r in RECORDS] + [5], "the file changed between reads"),
    ([len(r) + 1 for r in RECORDS], "record 0 is 0 bytes long, an earlier "
                                    "read found 1"),
])
def test_copy_records_refuses_a_file_that_changed(tmp_path, lengths,
                                                  message):
  source = _tensorflow_gzip(tmp_path, RECORDS)
  with pytest.raises(ValueError, match=message) as raised:
    example_bytes.copy_records(source, str(tmp_path / "dest.gz"), lengths,
                               [True] * len(lengths))
  assert source in str(raised.value)
