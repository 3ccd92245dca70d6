"""The Evaluator's bounded ranking: item blocks give the ranks and top-K of
the full score matrix, and a sample of every user gives the full metrics."""

import zlib

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf

from cdnrec.core import features as F
from cdnrec.core import item_stats
from cdnrec.core import metrics
from cdnrec.core import queries as queries_lib
from cdnrec.core import ranking


def test_blocked_ranks_equal_the_full_score_matrix():
  rng = np.random.default_rng(0)
  users, items = rng.normal(size=(40, 8)), rng.normal(size=(301, 8))
  target = rng.integers(0, 301, 40)
  excluded = [rng.choice(301, size=rng.integers(0, 20), replace=False)
              for _ in range(40)]
  # A query's own target among its exclusions must not count.
  excluded[3] = np.append(excluded[3], target[3])
  rows = np.concatenate([np.full(len(e), r) for r, e in enumerate(excluded)])
  columns = np.concatenate(excluded).astype(np.int64)
  full = metrics.ranks(users.astype(np.float32) @ items.astype(np.float32).T,
                       target, excluded)
  blocked = metrics.blocked_ranks(users, items, target, rows, columns,
                                  item_block=64)
  np.testing.assert_array_equal(blocked, full)


def test_blocked_top_k_equals_a_full_sort():
  rng = np.random.default_rng(1)
  users, items = rng.normal(size=(30, 8)), rng.normal(size=(257, 8))
  items[100] = items[7]  # a tie: the lower column comes first
  scores = users.astype(np.float32) @ items.astype(np.float32).T
  expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
  np.testing.assert_array_equal(
      metrics.blocked_top_k(users, items, 10, item_block=50), expected)


def _vector(ids, dim=8):
  """A fixed pseudo-random vector per id."""
  return np.stack([np.random.default_rng(zlib.crc32(i.encode())).normal(size=dim)
                   for i in ids]).astype(np.float32)


def _embed(records):
  users = tf.io.parse_example(
      tf.constant(records),
      {F.USER_ID: tf.io.FixedLenFeature([], tf.string)})[F.USER_ID].numpy()
  return _vector([u.decode() for u in users])


@pytest.fixture(scope="module")
def catalog(tiny_artifacts):
  rows = item_stats.load_item_rows(tiny_artifacts["item_stats"].uri)
  ids = np.array([r.item_id for r in rows])
  return ids, _vector(ids), rows


def _metrics(tiny_artifacts, catalog, max_queries, seed=0):
  ids, vectors, rows = catalog
  queries = queries_lib.load(tiny_artifacts["examples"].uri, "test",
                             ranking.exclude_splits("test"), max_queries,
                             seed)
  return queries, ranking.evaluate_embeddings(_embed, ids, vectors, queries,
                                                rows, 10, "test")


def test_a_sample_of_everyone_is_the_full_evaluation(tiny_artifacts, catalog):
  everyone, full = _metrics(tiny_artifacts, catalog, None)
  assert everyone.population == len(everyone.records) == 200
  # Every test user holds out one item, and its train and eval items leave
  # the candidates.
  assert len(everyone.excluded_rows) > len(everyone.records)
  same, sampled = _metrics(tiny_artifacts, catalog, 200)
  assert sorted(same.records) == sorted(everyone.records)
  assert sampled == full
  assert full["overall"]["hr_se"] == 0.0
  assert full["overall"]["count"] == 200 and full["queries"] == 200


def test_a_smaller_sample_is_seeded_and_reports_its_error(tiny_artifacts,
                                                          catalog):
  first, result = _metrics(tiny_artifacts, catalog, 50, seed=3)
  again, _ = _metrics(tiny_artifacts, catalog, 50, seed=3)
  other, _ = _metrics(tiny_artifacts, catalog, 50, seed=4)
  assert first.records == again.records
  assert set(first.records) != set(other.records)
  assert result["overall"]["count"] == 50 and result["population"] == 200
  assert first.sampled_share == 0.25
  # The fixed vectors hit some test items and miss others: a sample of
  # them has a standard error.
  assert 0 < result["overall"]["hr"] < 1
  assert result["overall"]["hr_se"] > 0 and result["overall"]["ndcg_se"] > 0
  # Only the sampled users' own items are excluded.
  sampled_users = set(first.user_ids.to_pylist())
  everyone, _ = _metrics(tiny_artifacts, catalog, None)
  users = pa.array(everyone.user_ids.to_pylist())
  expected = sum(1 for r in everyone.excluded_rows.tolist()
                 if users[r].as_py() in sampled_users)
  assert len(first.excluded_rows) == expected


def test_a_diverged_model_is_refused_not_ranked_first(tiny_artifacts,
                                                      catalog):
  """NaN scores compare false with everything: without the check, every
  target would rank first and a diverged model would score HR 1."""
  ids, vectors, rows = catalog
  queries = queries_lib.load(tiny_artifacts["examples"].uri, "test",
                             ranking.exclude_splits("test"), 20)
  broken_items = vectors.copy()
  broken_items[3, 0] = np.nan
  with pytest.raises(ranking.NonFiniteEmbeddings, match="item embeddings"):
    ranking.evaluate_embeddings(_embed, ids, broken_items, queries, rows, 10)
  nan_users = lambda records: np.full_like(_embed(records), np.inf)
  with pytest.raises(ranking.NonFiniteEmbeddings, match="user embeddings"):
    ranking.evaluate_embeddings(nan_users, ids, vectors, queries, rows, 10)
