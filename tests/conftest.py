"""Shared fixtures: a tiny generated dataset pushed through the Beam
executors once per test session."""

import os

import pytest

import cdnrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
from cdnrec.data import synthetic

TINY = synthetic.SyntheticConfig(n_users=200, n_items=120,
                                 n_interactions=1500, imbalance_factor=60,
                                 seed=7)


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("tiny_data"))
  synthetic.generate(TINY, out)
  return out


@pytest.fixture(scope="session")
def tiny_artifacts(tmp_path_factory, tiny_data_dir):
  """ExampleGen and ItemStatsGen outputs for the tiny dataset."""
  from cdnrec.components import local
  out = local.run_data_components(
      str(tmp_path_factory.mktemp("tiny_artifacts")), tiny_data_dir,
      head_fraction=0.2, seed=0)
  return {"examples": out.examples, "item_catalog": out.item_catalog,
          "item_stats": out.item_stats,
          "rebalanced_examples": out.rebalanced_examples}


@pytest.fixture(scope="session")
def tiny_batch(tiny_artifacts):
  """batch_of(size) -> (feature config, vocabularies, the first batch of
  that many train examples of the tiny dataset)."""
  from cdnrec.core import features as F
  from cdnrec.core import example_io
  from cdnrec.models import inputs
  catalog = tiny_artifacts["item_catalog"].uri
  with open(os.path.join(catalog, "features.json")) as f:
    feature_config = F.FeatureConfig.from_json(f.read())
  train = [example_io.split_pattern(tiny_artifacts["examples"].uri, "train")]
  vocab = inputs.learn_vocabularies(
      train, [os.path.join(catalog, "catalog.tfrecord.gz")], feature_config)
  spec = inputs.parse_spec(
      feature_config.user_features + feature_config.item_features, {},
      with_ids=[F.USER_ID, F.ITEM_ID])

  def batch_of(size: int):
    return (feature_config, vocab,
            next(iter(inputs.examples_dataset(train, spec, size))))
  return batch_of


@pytest.fixture(scope="session")
def trained(tiny_artifacts, tmp_path_factory):
  """The Trainer's run_fn on the tiny data: a two-tower with an exact
  ScaNN index (top 20), its brute-force twin and weights."""
  from cdnrec.core import example_io
  from cdnrec.models import trainer
  out = tmp_path_factory.mktemp("trained")
  examples = tiny_artifacts["examples"].uri
  custom = {
      "epochs": 4, "batch_size": 128, "serving_k": 20,
      # Search every leaf and re-score every item exactly, so ScaNN's answer
      # must equal brute force.
      "scann_num_leaves": 8, "scann_leaves_to_search": 8,
      "scann_reordering": 10_000,
  }
  fn_args = trainer.CdnFnArgs(
      train_files=[example_io.split_pattern(examples, "train")],
      eval_files=[example_io.split_pattern(examples, "eval")],
      serving_model_dir=str(out / "model" / "Format-Serving"),
      model_run_dir=str(out / "model_run"),
      custom_config=custom,
      item_catalog_uri=tiny_artifacts["item_catalog"].uri,
      item_stats_uri=tiny_artifacts["item_stats"].uri,
      rebalanced_examples_uri=tiny_artifacts["rebalanced_examples"].uri)
  trainer.run_fn(fn_args)
  return fn_args




@pytest.fixture(scope="session")
def test_users(tiny_artifacts):
  """(user feature dicts, serialized examples) of six test-split users:
  what serving tests ask the served models."""
  import tensorflow as tf
  from cdnrec.core import example_io
  records = [r.numpy() for r in tf.data.TFRecordDataset(
      tf.io.gfile.glob(example_io.split_pattern(
          tiny_artifacts["examples"].uri, "test")),
      compression_type="GZIP").take(6)]
  users = []
  for record in records:
    features = tf.train.Example.FromString(record).features.feature
    users.append({name: " ".join(v.decode() for v in value.bytes_list.value)
                  for name, value in features.items()
                  if name.startswith("user_")})
  return users, records


# Under `make test` the files are spread over worker processes (pytest-xdist,
# --dist loadfile --no-loadscope-reorder): each file runs in one worker, so
# its module fixtures are built once, and files start in collection order.
# The longest (a module fixture that runs the whole pipeline, an experiment,
# trainings in subprocesses) are collected first, so the workers finish
# together.
_LONGEST_FIRST = ("test_pipeline_e2e.py", "test_reliability.py",
                  "test_serving_http.py", "test_experiment.py",
                  "test_distribute.py", "test_methods.py", "test_cdn.py",
                  "test_serving_grpc.py", "test_infra_validation.py")


def pytest_collection_modifyitems(items):
  def rank(item):
    name = os.path.basename(str(item.fspath))
    return (_LONGEST_FIRST.index(name) if name in _LONGEST_FIRST
            else len(_LONGEST_FIRST))
  items.sort(key=rank)  # stable: the order within each file is kept
