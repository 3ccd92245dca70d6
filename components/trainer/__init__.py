"""CdnTrainer: TFX's Trainer with the item catalog, item statistics and Ω_r."""

from components.trainer.component import CdnTrainer

__all__ = ["CdnTrainer"]
