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
  gathered = context is not None and context.num_replicas_in_sync > 1
  if gathered:
    # Replicas may hold different numbers of rows (a thinned CDN batch):
    # this replica's rows start after those of the replicas before it.
    sizes = context.all_gather(tf.shape(queries)[:1], axis=0)
    offset = tf.reduce_sum(sizes[:context.replica_id_in_sync_group])
    candidates = context.all_gather(candidates, axis=0)
    if sampling_probability is not None:
      sampling_probability = context.all_gather(sampling_probability, axis=0)
    label_ids = [context.all_gather(ids, axis=0) for ids in label_ids]
  # Dividing the [B, d] queries rather than the [B, B] logits, and folding
  # log p and the accidental-hit mask into one bias that needs no gradient,
  # leaves one [B, B] add in the forward pass and none in the backward.
  scaled = queries / temperature
  logits = tf.matmul(scaled, candidates, transpose_b=True)
  bias = _bias(tf.shape(queries)[0], offset, tf.shape(candidates)[0],
               sampling_probability, query_ids, label_ids,
               square=not gathered)
  if bias is not None:
    logits += bias
  # −log softmax(s_b)_b = logsumexp(s_b) − s_b,b, with the positive's logit
  # a row-wise dot product rather than a gather from the [B, B] logits.
  # Faster on a CPU than sparse_softmax_cross_entropy_with_logits
  # (docs/benchmarks.md): logsumexp's gradient is one exp of the logits.
  labels = tf.range(tf.shape(queries)[0]) + offset
  own = (lambda t: tf.gather(t, labels)) if gathered else (lambda t: t)
  positives = tf.reduce_sum(scaled * own(candidates), axis=1)
  if sampling_probability is not None:
    positives -= _log(own(sampling_probability))
  loss = tf.reduce_logsumexp(logits, axis=1) - positives
  if sample_weight is not None:
    loss *= sample_weight
  return tf.reduce_sum(loss)


def _bias(rows, offset, columns, sampling_probability, query_ids,
          label_ids, square: bool) -> Optional[tf.Tensor]:
  """[rows, columns] constant added to the logits: −log p_j, and _MASK where
  candidate j is an accidental hit of row b (not on the positive j = b).

  square: the candidates are this replica's own (positives on the
  diagonal), not gathered from every replica (positives at b + offset).
  """
  correction = None
  if sampling_probability is not None:
    correction = -_log(sampling_probability)
  if not label_ids:
    return None if correction is None else correction[None, :]
  hit = None
  for own, every in zip(query_ids, label_ids):
    same = tf.equal(own[:, None], every[None, :])
    hit = same if hit is None else tf.logical_or(hit, same)
  if correction is None:
    correction = tf.zeros([columns])
  bias = tf.where(hit, tf.constant(_MASK, tf.float32), correction[None, :])
  # Row b's own positive sits at column b + offset: restore its correction.
  diagonal = tf.gather(correction, tf.range(rows) + offset)
  if square:
    return tf.linalg.set_diag(bias, diagonal)
  positive = tf.equal(tf.range(rows)[:, None] + offset,
                      tf.range(columns)[None, :])
  return tf.where(positive, diagonal[:, None], bias)


def _log(probability: tf.Tensor) -> tf.Tensor:
  """log p as a constant (no gradient), p kept away from 0. Not capped
  at 1: LogQ's q / π^w exceeds 1 for w > 1 (modules/sampling.py)."""
  return tf.math.log(tf.maximum(tf.stop_gradient(probability), 1e-12))


def _hashed(ids: tf.Tensor) -> tf.Tensor:
  # Comparing B² strings costs more than the matmul (and strings cannot be
  # gathered across replicas); 62-bit hashes collide with negligible
  # probability.
  if ids.dtype == tf.string:
    return tf.strings.to_hash_bucket_fast(ids, 2**62)
  return ids
