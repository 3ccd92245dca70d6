"""Full-corpus HR@K / NDCG@K on overall, head and tail slices."""

from components.evaluator.component import RetrievalEvaluator

__all__ = ["RetrievalEvaluator"]
