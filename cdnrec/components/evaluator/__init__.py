"""Full-corpus HR@K / NDCG@K on overall, head and tail slices."""

from cdnrec.components.evaluator.component import RetrievalEvaluator

__all__ = ["RetrievalEvaluator"]
