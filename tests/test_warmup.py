"""Warm-up records: the Trainer writes TF Serving's
assets.extra/tf_serving_warmup_requests from real training examples into
both SavedModels, the Pusher carries them, and `cdnrec serve` replays them
before a version serves; a version whose records fail does not load."""

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from cdnrec.components.pusher import versions
from cdnrec.core import example_io
from cdnrec.core import model_layout
from cdnrec.serving import holder as holder_lib
from cdnrec.serving import model as serving_model
from cdnrec.serving import predict as predict_lib
from cdnrec.serving import warmup


def _train_user_ids(tiny_artifacts):
  ids = set()
  pattern = example_io.split_pattern(tiny_artifacts["examples"].uri, "train")
  for record in tf.data.TFRecordDataset(tf.io.gfile.glob(pattern),
                                        compression_type="GZIP"):
    example = tf.train.Example.FromString(record.numpy())
    ids.add(example.features.feature["user_id"].bytes_list.value[0])
  return ids


def test_both_variants_carry_records_for_every_signature(trained,
                                                         tiny_artifacts):
  train_users = _train_user_ids(tiny_artifacts)
  for directory in (trained.serving_model_dir,
                    model_layout.brute_force_dir(trained.serving_model_dir)):
    requests = warmup.read(directory)
    by_signature = {}
    for request in requests:
      by_signature.setdefault(request.model_spec.signature_name, []).append(
          request)
    assert set(by_signature) == {"serving_default", "serve_features",
                                 "embed_users", "embed_examples"}
    for signature, found in by_signature.items():
      rows = sorted(len(tf.make_ndarray(next(iter(r.inputs.values()))))
                    for r in found)
      assert rows == [1, warmup.BATCH_ROWS], signature
    users = tf.make_ndarray(by_signature["serve_features"][1].inputs[
        "user_id"])
    assert set(users) <= train_users  # real ids, not made up


def test_replay_runs_every_record(trained):
  model = serving_model.RetrievalModel(trained.serving_model_dir)
  assert warmup.replay(model) == 4 * 2


def test_load_warmed_reports_the_replay(trained):
  told = []
  warmup.load_warmed(trained.serving_model_dir,
                     on_warmup=lambda *a: told.append(a))
  assert len(told) == 1
  path, ok, seconds = told[0]
  assert ok and seconds > 0 and path == trained.serving_model_dir


def _rewrite(directory, logs):
  os.remove(warmup.path(directory))
  warmup.write(directory, logs)


def test_a_version_whose_records_fail_does_not_load(trained, tmp_path):
  base = str(tmp_path / "m")
  versions.publish(trained.serving_model_dir, base, 1)
  broken = versions.publish(trained.serving_model_dir, base, 2)
  log = warmup.build([b""], [])[0]
  log.predict_log.request.inputs["nope"].CopyFrom(
      tf.make_tensor_proto(np.array([b"x"], dtype=object)))
  _rewrite(broken, [log])
  holder = holder_lib.ModelHolder(base)
  assert holder.current.version == 1
  assert "warm-up record 0 failed: unknown inputs ['nope']" in (
      holder._errors[2])


def test_more_than_tf_servings_limit_is_refused(trained, tmp_path):
  directory = versions.publish(trained.serving_model_dir, str(tmp_path), 1)
  request = warmup.read(directory)[0]
  _rewrite(directory, [prediction_log_pb2.PredictionLog(
      predict_log=prediction_log_pb2.PredictLog(request=request))] *
      (warmup.MAX_RECORDS + 1))
  with pytest.raises(ValueError, match="more than 1000 warm-up records"):
    warmup.read(directory)


def test_a_record_that_is_not_a_predict_log_is_refused(tmp_path):
  warmup.write(str(tmp_path), [prediction_log_pb2.PredictionLog(
      classify_log=prediction_log_pb2.ClassifyLog())])
  with pytest.raises(ValueError, match="record 0 is a classify_log, not a "
                     "predict_log"):
    warmup.read(str(tmp_path))


def test_a_model_without_records_loads_and_replays_nothing(trained, tmp_path):
  base = str(tmp_path / "m")
  directory = versions.publish(trained.serving_model_dir, base, 1)
  os.remove(warmup.path(directory))
  assert warmup.replay(serving_model.RetrievalModel(directory)) == 0
  assert holder_lib.ModelHolder(base).current.version == 1


def test_feature_requests_use_each_kind(trained):
  """Numbers go as floats (NaN when missing), token lists joined."""
  model = serving_model.RetrievalModel(trained.serving_model_dir)
  specs = model.input_specs("serve_features")
  request = [r for r in warmup.read(trained.serving_model_dir)
             if r.model_spec.signature_name == "serve_features"][0]
  assert set(request.inputs) == set(specs)
  for name, proto in request.inputs.items():
    assert proto.dtype == specs[name].dtype.as_datatype_enum
  predict_lib.predict_arrays(model, "serve_features", {
      n: tf.make_ndarray(p) for n, p in request.inputs.items()})
