"""The frontier's comparison of curves, its table and its settings checks
(the sweep itself runs end to end in test_experiment.py)."""

import pytest

from cdnrec.core.errors import ConfigError
from cdnrec.experiment import frontier
from cdnrec.experiment import methods
from cdnrec.experiment.config import ExperimentConfig


def _point(value, head, tail, tail_sem=0.1, head_sem=0.1):
  m = lambda mean, sem: {"mean": mean, "sem": sem, "seeds": [mean]}
  return {"knob": "k", "value": value, "validation": None, "test": {
      "overall": {"hr@50": m((head + tail) / 2, 0.1)},
      "head": {"hr@50": m(head, head_sem)},
      "tail": {"hr@50": m(tail, tail_sem)}}}


# A straight line from (head 40, tail 30) to (head 50, tail 20).
OTHER = [_point(1, 50.0, 20.0), _point(0, 40.0, 30.0)]


def test_compare_interpolates_at_the_same_head_recall():
  rows = frontier.compare([_point(5, 45.0, 26.0), _point(6, 45.0, 25.1),
                           _point(7, 42.0, 26.0), _point(8, 55.0, 1.0)],
                          OTHER, 50)
  above, level, below, outside = rows
  assert above["other_tail"] == pytest.approx(25.0)
  assert above["gap"] == pytest.approx(1.0)
  # Unpaired (one seed): the point's SEM 0.1 and the midpoint's, taken as
  # 0.5 · 0.1 + 0.5 · 0.1.
  assert above["se"] == pytest.approx(0.02 ** 0.5)
  assert not above["paired"]
  assert above["verdict"] == "above"
  assert level["verdict"] == "level"
  assert below["other_tail"] == pytest.approx(28.0)
  assert below["verdict"] == "below"
  assert outside["verdict"] == "outside" and outside["gap"] is None


def _seeded(value, heads, tails):
  m = lambda v: {"mean": sum(v) / len(v), "sem": 1.0, "seeds": list(v)}
  return {"knob": "k", "value": value, "validation": None, "test": {
      "overall": {"hr@50": m(heads)}, "head": {"hr@50": m(heads)},
      "tail": {"hr@50": m(tails)}}}


def test_compare_pairs_seeds_when_the_curves_share_them():
  # Seed by seed the point is 1.0, 1.2 and 0.8 above the other curve,
  # though seed noise (SEM 1.0 per point) would hide it unpaired.
  other = [_seeded(0, [40.0, 41.0, 42.0], [30.0, 31.0, 29.0]),
           _seeded(1, [50.0, 51.0, 52.0], [20.0, 21.0, 19.0])]
  (row,) = frontier.compare([_seeded(5, [45.0, 46.0, 47.0],
                                     [26.0, 27.2, 24.8])], other, 50)
  assert row["paired"]
  assert row["other_tail"] == pytest.approx(25.0)
  assert row["gap"] == pytest.approx(1.0)
  assert row["se"] == pytest.approx(0.2 / 3 ** 0.5)
  assert row["verdict"] == "above"


def test_compare_at_an_existing_point_uses_it():
  (row,) = frontier.compare([_point(5, 50.0, 20.0)], OTHER, 50)
  assert row["other_tail"] == pytest.approx(20.0)
  assert row["verdict"] == "level"


def test_table_and_comparison_text():
  curves = {"cdn": [_point(5, 45.0, 26.0)], "two_tower": OTHER}
  text = frontier.table(curves, 50)
  assert "cdn" in text and "k=5" in text and "26.00 ± 0.10" in text
  found = frontier.comparisons(curves, 50)
  assert list(found) == ["cdn"] and list(found["cdn"]) == ["two_tower"]
  assert "gap +1.00" in frontier.comparison_text(found)
  assert "above" in frontier.comparison_text(found)


def test_both_readings_of_cdn_are_compared_with_each_other_and_the_rest():
  curves = {"cdn_drawn": [_point(5, 45.0, 26.0)],
            "cdn_thinned": [_point(5, 45.0, 24.0)],
            "cdn_thinned+posthoc": [_point(0.1, 44.0, 27.0)],
            "two_tower": OTHER}
  found = frontier.comparisons(curves, 50)
  assert sorted(found["cdn_thinned"]) == ["cdn_drawn", "two_tower"]
  assert sorted(found["cdn_drawn"]) == ["cdn_thinned", "cdn_thinned+posthoc",
                                        "two_tower"]
  assert "two_tower" not in found
  (row,) = found["cdn_thinned"]["cdn_drawn"]
  assert row["gap"] == pytest.approx(-2.0)


def test_the_readings_of_cdn_are_methods_of_their_own():
  drawn = methods.settings("cdn_drawn")
  thinned = methods.settings("cdn_thinned")
  assert methods.model("cdn_thinned") == methods.model("cdn_drawn") == "cdn"
  assert (drawn["regularizer_batch"], drawn["cdn_loss"]) == ("drawn", "joint")
  assert (thinned["regularizer_batch"], thinned["cdn_loss"]) == (
      "thinned", "separate")
  ExperimentConfig(data_dir="d", out_dir="o", frontier=True,
                   methods=("cdn_drawn", "cdn_thinned"),
                   sweeps={"cdn_thinned": (2.1, 5.0)},
                   posthoc=("cdn_thinned",)).validate()


@pytest.mark.parametrize("kwargs,message", [
    ({"methods": ("udn",)}, "'udn' has no head/tail knob"),
    ({"overrides": {"gamma": 3.0}}, "drop --set gamma"),
    ({"sweeps": {"two_tower": (0.5,)}}, "not among --methods"),
    ({"sweeps": {"cdn": (0.5,)}}, "gamma must be > 1"),
    ({"posthoc": ("ease",)}, "ease is not one"),
    ({"posthoc_taus": ()}, "names no τ"),
])
def test_frontier_settings_are_checked_before_training(kwargs, message):
  config = ExperimentConfig(data_dir="d", out_dir="o", frontier=True,
                            **{"methods": ("cdn",), **kwargs})
  with pytest.raises(ConfigError, match=message):
    config.validate()


def test_sweeps_need_the_frontier():
  config = ExperimentConfig(data_dir="d", out_dir="o",
                            sweeps={"cdn": (2.0,)})
  with pytest.raises(ConfigError, match="apply to --frontier"):
    config.validate()


def test_the_run_cache_keys_on_the_code_runs_depend_on():
  from cdnrec.experiment import cache
  files = cache.run_code_files()
  for path in ("models/two_tower.py", "models/modules/sampling.py",
               "components/evaluator/executor.py", "experiment/run.py",
               "core/logit_adjustment.py", "data/readers/__init__.py"):
    assert path in files
  # Editing the harness, its reports or the generator keeps finished runs.
  for path in ("experiment/frontier.py", "experiment/report.py",
               "cli/experiment.py", "data/synthetic.py"):
    assert path not in files


def test_frontier_refuses_a_knob_that_does_nothing():
  config = ExperimentConfig(data_dir="d", out_dir="o", frontier=True,
                            methods=("two_tower",),
                            overrides={"sampling_correction": False})
  with pytest.raises(ConfigError, match="sampling_correction=false"):
    config.validate()


def test_the_run_cache_keys_on_the_data(tmp_path):
  from cdnrec.experiment import cache
  from cdnrec.experiment import run as run_lib

  class Prepared:
    def __init__(self, key):
      self.key = key

    def data_key(self):
      return self.key

  calls = []

  def compute():
    calls.append(1)
    return run_lib.RunResult({}, {}, [1.0])

  for data in ("a", "a", "b"):
    cache.RunCache(str(tmp_path), Prepared(data), 50)._cached(
        "m", {"x": 1}, ["test"], compute)
  assert len(calls) == 2  # "a" once, then "b"
