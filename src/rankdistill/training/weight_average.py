"""An exponential moving average of the student's weights (``ema_decay``).

The weights a run ends on are one noisy point of the optimiser's path; an average of the
last few hundred steps sits nearer the middle of the basin they wander in, and usually
ranks better on held-out queries (Polyak averaging; the EMA of Mean Teacher and timm).

- After every optimiser step ``shadow = d * shadow + (1 - d) * weights`` for each trainable
  weight, with ``d = min(ema_decay, (1 + step) / (10 + step))`` so the first steps are not
  tied to the untrained initial weights.
- The dev evaluation scores the averaged weights, and the saved student is the average:
  what is evaluated is what is shipped.
- Each checkpoint holds the average beside the raw weights (``ema.safetensors``); a resumed
  run continues it, and restoring the best checkpoint restores its average.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from rankdistill.training.checkpoints import saved_checkpoint_folder

AVERAGE_FILE = "ema.safetensors"  # a checkpoint's averaged weights, beside model.safetensors


def step_decay(decay: float, step: int) -> float:
    """The decay applied after optimiser step ``step`` (1-based): warmed up from 0.1."""
    return min(decay, (1 + step) / (10 + step))


class WeightAverage:
    """The moving average of ``module``'s trainable parameters, kept in float32."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay must lie in (0, 1), not {decay}")
        self.decay = decay
        self.params = {n: p for n, p in module.named_parameters() if p.requires_grad}
        self.shadow: dict[str, Tensor] = {}
        self.reset()

    def reset(self) -> None:
        """Start the average at the current weights."""
        self.shadow = {n: p.detach().float().clone() for n, p in self.params.items()}

    @torch.no_grad()
    def update(self, step: int) -> None:
        weight = 1.0 - step_decay(self.decay, step)
        for name, param in self.params.items():
            self.shadow[name].lerp_(param.detach().float(), weight)

    @torch.no_grad()
    def _set_weights(self, weights: dict[str, Tensor]) -> None:
        for name, param in self.params.items():
            param.copy_(weights[name].to(param.dtype))

    def copy_to_module(self) -> None:
        """Overwrite the module's weights with the average (for export)."""
        self._set_weights(self.shadow)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The module holds the average inside the block and its own weights after it."""
        own = {n: p.detach().clone() for n, p in self.params.items()}
        self.copy_to_module()
        try:
            yield
        finally:
            self._set_weights(own)

    def save(self, path: str | Path) -> None:
        tensors = {n: t.contiguous() for n, t in self.shadow.items()}
        save_file(tensors, str(path), metadata={"decay": str(self.decay)})

    def load(self, path: str | Path) -> None:
        """Read an average written by :meth:`save`; it must cover exactly these weights."""
        stored = load_file(str(path), device="cpu")
        if set(stored) != set(self.params):
            missing = sorted(set(self.params) - set(stored))[:5]
            extra = sorted(set(stored) - set(self.params))[:5]
            raise RuntimeError(f"{path}: average does not fit (missing {missing}, extra {extra})")
        device = next(iter(self.params.values())).device
        self.shadow = {n: t.to(device=device, dtype=torch.float32) for n, t in stored.items()}


def weight_average_callback(average: WeightAverage, checkpoint: str | None) -> Any:
    """A Trainer callback that keeps ``average`` across steps, checkpoints and resumes.

    Add it before the dev-evaluation callback: callbacks run in the order added, and the
    evaluation of a step must see that step's average.
    """
    from transformers import TrainerCallback

    class WeightAverageCallback(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            # The Trainer has loaded the checkpoint's weights by now.
            saved = Path(checkpoint) / AVERAGE_FILE if checkpoint else None
            if saved is not None and saved.is_file():
                average.load(saved)
            else:
                average.reset()
            return control

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            average.update(state.global_step)
            return control

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            folder = saved_checkpoint_folder(args, state)
            if folder is not None:
                average.save(folder / AVERAGE_FILE)
            return control

    return WeightAverageCallback()
