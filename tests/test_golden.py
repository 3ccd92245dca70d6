"""The columnar ExampleGen and ItemStatsGen write what the row-by-row ones
did before the rewrite (tests/golden/capture.py): the same splits, features, item
indexes, catalog, frequencies, head/tail, summary and Ω_r."""

import json
import os

import pytest

from golden import capture

GOLDEN = os.path.join(os.path.dirname(__file__), "golden",
                      "data_components.json")


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
  # Through JSON, as the golden file was, so floats and tuples compare alike.
  return json.loads(json.dumps(capture.capture_all(
      str(tmp_path_factory.mktemp("golden")))))


@pytest.fixture(scope="module")
def golden():
  with open(GOLDEN) as f:
    return json.load(f)


@pytest.mark.parametrize("dataset", ["toy", "tiny_seed3"])
@pytest.mark.parametrize("part", ["splits", "catalog", "item_stats", "summary",
                                  "omega_r"])
def test_same_as_before(captured, golden, dataset, part):
  assert captured[dataset][part] == golden[dataset][part]
