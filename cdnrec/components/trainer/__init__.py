"""CdnTrainer: TFX's Trainer with the item catalog, item statistics and Ω_r."""

from cdnrec.components.trainer.component import CdnTrainer

__all__ = ["CdnTrainer"]
