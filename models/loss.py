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
  label_ids = [_hashed(ids) for ids in label_ids]
  # Under a multi-replica strategy every replica scores its queries against
  # the candidates of all replicas: the softmax sees the global batch, so a
  # mirrored run computes what a single-device run computes.
  context = tf.distribute.get_replica_context()
  offset = 0
  query_ids = label_ids
  if context is not None and context.num_replicas_in_sync > 1:
    offset = context.replica_id_in_sync_group * tf.shape(queries)[0]
    candidates = context.all_gather(candidates, axis=0)
    if sampling_probability is not None:
      sampling_probability = context.all_gather(sampling_probability, axis=0)
    label_ids = [context.all_gather(ids, axis=0) for ids in label_ids]
  logits = tf.matmul(queries, candidates, transpose_b=True) / temperature
  if sampling_probability is not None:
    logits -= tf.math.log(tf.clip_by_value(sampling_probability, 1e-12, 1.0))[
        None, :]
  labels = tf.range(tf.shape(queries)[0]) + offset
  positive = tf.equal(labels[:, None],
                      tf.range(tf.shape(candidates)[0])[None, :])
  for own, every in zip(query_ids, label_ids):
    same = tf.equal(own[:, None], every[None, :])
    logits = tf.where(tf.logical_and(same, tf.logical_not(positive)), _MASK,
                      logits)
  loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                        logits=logits)
  if sample_weight is not None:
    loss *= sample_weight
  return tf.reduce_sum(loss)


def _hashed(ids: tf.Tensor) -> tf.Tensor:
  # Comparing B² strings costs more than the matmul (and strings cannot be
  # gathered across replicas); 62-bit hashes collide with negligible
  # probability.
  if ids.dtype == tf.string:
    return tf.strings.to_hash_bucket_fast(ids, 2**62)
  return ids
