"""The blessing decision: relative to a reference, absolute tail bars, and
the index's recall."""

import pytest

from cdnrec.core import blessing


def _metrics(hr, ndcg, tail_hr=0.2, tail_ndcg=0.05, tail_count=10):
  return {"overall": {"hr": hr, "ndcg": ndcg, "count": 100},
          "tail": {"hr": tail_hr, "ndcg": tail_ndcg, "count": tail_count}}


BARS = blessing.Thresholds(max_regression=0.02, min_tail_hr=0.1,
                           min_tail_ndcg=0.02, min_index_recall=0.95)


def test_within_tolerance_of_the_reference_is_blessed():
  decision = blessing.decide(_metrics(0.495, 0.30), 0.97, BARS,
                             _metrics(0.50, 0.30), "last blessed")
  assert decision.blessed
  assert decision.reasons == ["every check passed"]
  assert decision.to_dict()["reference"] == "last blessed"


def test_overall_regression_beyond_tolerance_is_refused():
  decision = blessing.decide(_metrics(0.48, 0.30), 0.97, BARS,
                             _metrics(0.50, 0.30), "baseline")
  assert not decision.blessed
  assert len(decision.reasons) == 1
  assert decision.reasons[0].startswith("overall hr (reference 0.5000 - 2%)")
  assert "FAILED" in decision.describe()


@pytest.mark.parametrize("tail_hr,tail_ndcg,recall,failing", [
    (0.05, 0.05, 0.99, "tail hr"),
    (0.20, 0.01, 0.99, "tail ndcg"),
    (0.20, 0.05, 0.90, "index recall"),
])
def test_absolute_bars(tail_hr, tail_ndcg, recall, failing):
  decision = blessing.decide(_metrics(0.5, 0.3, tail_hr, tail_ndcg), recall,
                             BARS)
  assert not decision.blessed
  assert [r.split(":")[0] for r in decision.reasons] == [failing]


def test_first_run_without_reference_says_so():
  decision = blessing.decide(_metrics(0.5, 0.3), 0.99, BARS)
  assert decision.blessed and decision.reference is None
  assert "absolute bars only" in decision.reasons[0]


def test_no_tail_test_items_cannot_fail_the_tail_bar():
  decision = blessing.decide(
      _metrics(0.5, 0.3, float("nan"), float("nan"), tail_count=0), 0.99,
      BARS)
  assert decision.blessed


def test_thresholds_are_checked():
  with pytest.raises(ValueError, match="min_index_recall"):
    blessing.Thresholds(min_index_recall=1.5).validate()
