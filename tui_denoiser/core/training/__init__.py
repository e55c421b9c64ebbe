"""Training: the trainer and what it carries and reports.

- :mod:`.trainer`: :class:`Trainer`, one loop shared by the app and the CLI (set-up, the step);
- :mod:`.reporting`: the events it reports (step updates, epochs, previews, evaluations);
- :mod:`.state`: EMA, the learning-rate schedule, what a resume may change, the checkpoint payload;
- :mod:`.distributed`: many processes through torchrun;
- :mod:`.sigma_bins`: the training loss per noise level;
- :mod:`.monitor`: the small quality evaluation during training;
- :mod:`.distill`: students fine-tuned from a teacher (guidance and consistency distillation).

Importing the package imports torch (through the trainer); the light core stays outside it.
"""

from tui_denoiser.core.training.state import EMA, lr_schedule, resume_config
from tui_denoiser.core.training.trainer import Trainer

__all__ = ["EMA", "Trainer", "lr_schedule", "resume_config"]
