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
  from tfx.types import standard_artifacts
  from components import artifacts
  from components.example_gen import executor as example_gen
  from components.item_stats import executor as item_stats
  root = str(tmp_path_factory.mktemp("tiny_artifacts"))

  def artifact(cls, name):
    a = cls()
    a.uri = os.path.join(root, name)
    os.makedirs(a.uri, exist_ok=True)
    return a

  examples = artifact(standard_artifacts.Examples, "examples")
  catalog = artifact(artifacts.ItemCatalog, "catalog")
  stats = artifact(artifacts.ItemStats, "stats")
  rebalanced = artifact(standard_artifacts.Examples, "rebalanced")
  example_gen.Executor().Do(
      {}, {"examples": [examples], "item_catalog": [catalog]},
      {"data_dir": tiny_data_dir, "seed": 0})
  item_stats.Executor().Do(
      {"examples": [examples], "item_catalog": [catalog]},
      {"item_stats": [stats], "rebalanced_examples": [rebalanced]},
      {"head_fraction": 0.2, "seed": 0})
  return {"examples": examples, "item_catalog": catalog, "item_stats": stats,
          "rebalanced_examples": rebalanced}
