"""Student re-rankers; importing this package registers every student in ``STUDENTS``."""

from __future__ import annotations

import importlib.util

from rankdistill.students.base import STUDENTS, StudentModel, load_student, register_student
from rankdistill.students.cross_encoder import CrossEncoderStudent
from rankdistill.students.rra_bert import RraBertStudent, TermControlLayer
from rankdistill.students.token_selection import TokenSelector

# RRA-GPT registers itself; it is written separately, so tolerate its module being absent
# (and only that: an ImportError inside an existing rra_gpt module still raises).
if importlib.util.find_spec("rankdistill.students.rra_gpt") is not None:
    from rankdistill.students import rra_gpt  # noqa: F401

__all__ = [
    "STUDENTS",
    "CrossEncoderStudent",
    "RraBertStudent",
    "StudentModel",
    "TermControlLayer",
    "TokenSelector",
    "load_student",
    "register_student",
]
