"""DisRanker's teacher, end to end: CPT on clicks, then SFT on the labels (SPEC section 3).

Each step's output folder is kept, so a rerun resumes after the last finished step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rankdistill.data.clicks import ClickRecord, simulate_clicks
from rankdistill.data.records import LabelRecord, RankingData
from rankdistill.labeling.grading import grades_from_labels
from rankdistill.teachers.config import TeacherConfig
from rankdistill.teachers.cpt import build_cpt_examples, run_cpt
from rankdistill.teachers.sft import run_sft


def simulated_clicks(
    labels: Sequence[LabelRecord], train: RankingData, seed: int
) -> list[ClickRecord]:
    """Clicks when there is no log: a position-based click model over the pre-ranked
    candidates, with the teacher's labels (``pseudo_grades``) as relevance."""
    pseudo = RankingData(train.queries, train.corpus, train.candidates, grades_from_labels(labels))
    return simulate_clicks(pseudo, train.candidates, seed=seed)


def train_disranker_teacher(
    cfg: TeacherConfig,
    labels: Sequence[LabelRecord],
    train: RankingData,
    folder: Path,
    clicks: Sequence[ClickRecord] | None = None,
    device: str = "auto",
) -> tuple[Path | None, Path]:
    """CPT (when ``cfg.cpt.enabled``) into ``folder/cpt``, then SFT into ``folder/sft``.

    ``clicks``: the click log; ``None`` simulates one (:func:`simulated_clicks`). Returns
    the CPT folder (``None`` without CPT) and the SFT teacher's folder.
    """
    init = None
    if cfg.cpt.enabled:
        init = folder / "cpt"
        if not (init / "cpt.json").is_file():
            if clicks is None:
                clicks = simulated_clicks(labels, train, cfg.seed)
            run_cpt(cfg, build_cpt_examples(clicks, train.corpus), init, device=device)
    sft_dir = folder / "sft"
    if not (sft_dir / "teacher.json").is_file():
        run_sft(cfg, labels, train, sft_dir, init=init, device=device)
    return init, sft_dir
