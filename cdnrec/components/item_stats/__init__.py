"""Item frequencies, head/tail split, imbalance factor and Ω_r, with Beam."""

from cdnrec.components.item_stats.component import ItemStatsGen

__all__ = ["ItemStatsGen"]
