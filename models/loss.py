"""Batch softmax loss with sampling-bias correction and accidental-hit
masking over any number of label views."""

from typing import Optional, Sequence

import tensorflow as tf

_MASK = -1e9


def batch_softmax_loss(queries: tf.Tensor, candidates: tf.Tensor,
                       temperature: float,
                       sampling_probability: Optional[tf.Tensor] = None,
                       label_ids: Sequence[tf.Tensor] = (),
                       sample_weight: Optional[tf.Tensor] = None) -> tf.Tensor:
  """Σ_b −log softmax(s_b)_b over the batch, s_bj = q_b·c_j / T − log p_j.

  Args:
    queries, candidates: [B, d]; row b of each is a positive pair.
    temperature: logits are divided by it.
    sampling_probability: [B] probability p_j of candidate j entering the
      batch; log p_j is subtracted (Yi et al. 2019).
    label_ids: tensors [B] of ids; candidate j ≠ b whose id equals row b's
      in any of them is the same positive sampled twice, not a negative,
      and is masked out (for CDN's pairs: the main or the regularizer item).
    sample_weight: [B] per-row weights.
  """
  logits = tf.matmul(queries, candidates, transpose_b=True) / temperature
  if sampling_probability is not None:
    logits -= tf.math.log(tf.clip_by_value(sampling_probability, 1e-12, 1.0))[
        None, :]
  size = tf.shape(logits)[0]
  eye = tf.eye(size, dtype=tf.bool)
  for ids in label_ids:
    if ids.dtype == tf.string:
      # Comparing B² strings costs more than the matmul; 62-bit hashes
      # collide with negligible probability.
      ids = tf.strings.to_hash_bucket_fast(ids, 2**62)
    same = tf.equal(ids[:, None], ids[None, :])
    logits = tf.where(tf.logical_and(same, tf.logical_not(eye)), _MASK,
                      logits)
  loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.range(size), logits=logits)
  if sample_weight is not None:
    loss *= sample_weight
  return tf.reduce_sum(loss)
