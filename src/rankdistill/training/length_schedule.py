"""A sequence-length schedule for training: short pairs first, long ones last.

``StudentTrainConfig.short_first`` trains the first ``fraction`` of the optimiser steps with
pairs cut to ``short_first.max_length`` tokens and the rest at the student's ``max_length``,
the length it is saved with and reads at inference. The collator tokenises with the
student's ``max_length`` attribute, so the callback only sets that attribute as steps pass.

The Trainer's data loader collates one batch ahead of the step it is on, so the first long
batch is the one collated after the boundary step: one step later than the boundary, in a
fresh run and in a resumed one alike.
"""

from __future__ import annotations

from typing import Any

from rankdistill.students.base import StudentModel
from rankdistill.training.config import ShortFirst


def short_phase_steps(schedule: ShortFirst, total_steps: int) -> int:
    """Optimiser steps trained at the short length, out of ``total_steps``."""
    return int(schedule.fraction * total_steps)


def length_at(step: int, total_steps: int, schedule: ShortFirst, long_length: int) -> int:
    """Tokens per pair for batches collated after ``step`` optimiser steps."""
    return schedule.max_length if step < short_phase_steps(schedule, total_steps) else long_length


def length_schedule_callback(student: StudentModel, schedule: ShortFirst) -> Any:
    """A Trainer callback that sets ``student.max_length`` from the step reached."""
    from transformers import TrainerCallback

    long_length = int(student.max_length)

    class LengthScheduleCallback(TrainerCallback):
        def _set(self, state: Any) -> None:
            student.max_length = length_at(
                state.global_step, state.max_steps, schedule, long_length
            )

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            self._set(state)
            return control

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            self._set(state)
            return control

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            # The saved student reads its own length whatever step training stopped at.
            student.max_length = long_length
            return control

    return LengthScheduleCallback()
