"""CdnTuner: TFX's Tuner with the CDN Trainer's extra inputs."""

from cdnrec.components.tuner.component import CdnTuner
