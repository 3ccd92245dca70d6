"""The batch softmax loss against a direct computation of its definition."""

import numpy as np
import tensorflow as tf

from cdnrec.models.modules import loss as loss_lib


def _reference(queries, candidates, temperature, probability, label_ids):
  """Σ_b −log softmax(s_b)_b, with s_bj = q_b·c_j / T − log p_j and every
  j ≠ b sharing one of row b's ids left out of row b's softmax."""
  total = 0.0
  for b in range(len(queries)):
    scores = []
    for j in range(len(candidates)):
      hit = any(ids[j] == ids[b] for ids in label_ids)
      if j != b and hit:
        continue
      s = queries[b] @ candidates[j] / temperature
      if probability is not None:
        s -= np.log(probability[j])
      scores.append((j == b, s))
    logits = np.array([s for _, s in scores])
    positive = [k for k, (own, _) in enumerate(scores) if own][0]
    total -= logits[positive] - np.log(np.exp(logits - logits.max()).sum()) \
        - logits.max()
  return total


def test_loss_matches_definition_with_masks_and_correction():
  rng = np.random.default_rng(0)
  queries = rng.normal(size=(6, 4)).astype(np.float32)
  candidates = rng.normal(size=(6, 4)).astype(np.float32)
  probability = rng.uniform(0.01, 0.5, size=6).astype(np.float32)
  # Rows 0 and 3 share a main item; rows 1 and 4 share a regularizer item.
  main_ids = np.array([b"a", b"b", b"c", b"a", b"d", b"e"])
  reg_ids = np.array([b"x", b"y", b"z", b"w", b"y", b"v"])
  got = loss_lib.batch_softmax_loss(
      tf.constant(queries), tf.constant(candidates), 0.1,
      tf.constant(probability),
      label_ids=[tf.constant(main_ids), tf.constant(reg_ids)])
  want = _reference(queries, candidates, 0.1, probability,
                    [main_ids, reg_ids])
  np.testing.assert_allclose(float(got), want, rtol=1e-4)


def test_loss_without_correction_or_labels_is_plain_softmax():
  rng = np.random.default_rng(1)
  queries = rng.normal(size=(5, 3)).astype(np.float32)
  candidates = rng.normal(size=(5, 3)).astype(np.float32)
  got = loss_lib.batch_softmax_loss(tf.constant(queries),
                                    tf.constant(candidates), 0.5)
  want = _reference(queries, candidates, 0.5, None, [])
  np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_masked_candidates_get_no_gradient():
  queries = tf.Variable(tf.random.normal((4, 3), seed=2))
  candidates = tf.Variable(tf.random.normal((4, 3), seed=3))
  ids = tf.constant([b"a", b"b", b"a", b"c"])
  with tf.GradientTape() as tape:
    # Row 0's loss only.
    loss = loss_lib.batch_softmax_loss(
        queries, candidates, 1.0, label_ids=[ids],
        sample_weight=tf.constant([1.0, 0.0, 0.0, 0.0]))
  grad = tape.gradient(loss, candidates).numpy()
  # Candidate 2 repeats row 0's positive: it is neither pushed nor pulled.
  np.testing.assert_array_equal(grad[2], np.zeros(3))
  assert np.abs(grad[1]).sum() > 0 and np.abs(grad[0]).sum() > 0
