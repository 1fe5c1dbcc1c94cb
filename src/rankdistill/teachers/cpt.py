"""DisRanker step 1: continued pre-training (CPT) on click logs (SPEC section 3.1).

Each clicked (query, document) pair becomes the text ``{prompt}{title}\\n{summary}<eos>``
where the prompt is ``cfg.cpt.template`` filled with the query. The causal LM loss counts
only the title and summary tokens (and the closing EOS); prompt tokens are labelled -100,
so the model learns "what a user who typed this query clicks", not to model queries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rankdistill.data.records import ClickRecord, Document
from rankdistill.students.decoder import IGNORE_INDEX, load_decoder, pad_sequences
from rankdistill.teachers.config import TeacherConfig
from rankdistill.teachers.hf import (
    apply_lora,
    base_model_path,
    loss_history,
    teacher_training_arguments,
    with_relative_base,
)
from rankdistill.utils import atomic_write_json, resolve_device, set_seed

log = logging.getLogger(__name__)

CPT_INFO_FILE = "cpt.json"
MODEL_SUBDIR = "model"
ADAPTER_SUBDIR = "adapter"


@dataclass(frozen=True)
class CptExample:
    """One CPT training text: the query (prompt, not learned) and the clicked result."""

    query: str
    target: str


def _click_target(click: ClickRecord, corpus: dict[str, Document] | None) -> str | None:
    """Title + summary the user clicked: from the log itself, else from the corpus."""
    parts = [p.strip() for p in (click.title, click.summary) if p and p.strip()]
    if parts:
        return "\n".join(parts)
    if click.docid is not None and corpus is not None and click.docid in corpus:
        doc = corpus[click.docid]
        return "\n".join(p.strip() for p in (doc.title, doc.text) if p and p.strip()) or None
    return None


def build_cpt_examples(
    clicks: Sequence[ClickRecord],
    corpus: dict[str, Document] | None = None,
    min_clicks: int = 1,
) -> list[CptExample]:
    """``query -> clicked title + summary`` examples, one per distinct pair, in log order.

    Rows with fewer than ``min_clicks`` clicks are dropped. A row without title/summary is
    resolved through ``corpus`` by docid; rows that resolve to nothing are skipped and
    counted in a warning.
    """
    seen: set[tuple[str, str]] = set()
    examples: list[CptExample] = []
    unresolved = 0
    for click in clicks:
        if click.clicks < min_clicks:
            continue
        target = _click_target(click, corpus)
        if target is None:
            unresolved += 1
            continue
        key = (click.query, target)
        if key not in seen:
            seen.add(key)
            examples.append(CptExample(click.query, target))
    if unresolved:
        log.warning("CPT: %d clicked rows have no title/summary and no corpus entry", unresolved)
    return examples


def tokenize_cpt_example(
    tokenizer: Any, example: CptExample, template: str, max_length: int
) -> dict[str, list[int]]:
    """``input_ids`` and ``labels`` (-100 exactly on the prompt positions).

    The target is cut to fit ``max_length``; a prompt longer than half of it is cut
    first (keeping its end, next to the target) so some target always remains.
    """
    prompt = tokenizer(template.format(query=example.query), add_special_tokens=False)["input_ids"]
    target = tokenizer(example.target, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        target = [*target, tokenizer.eos_token_id]
    if len(prompt) > max_length // 2:
        prompt = prompt[-(max_length // 2) :]
    target = target[: max_length - len(prompt)]
    return {"input_ids": prompt + target, "labels": [IGNORE_INDEX] * len(prompt) + target}


class CptDataset(torch.utils.data.Dataset):
    """Tokenised CPT examples (tokenised once, up front)."""

    def __init__(
        self, tokenizer: Any, examples: Sequence[CptExample], template: str, max_length: int
    ) -> None:
        self.items = [tokenize_cpt_example(tokenizer, e, template, max_length) for e in examples]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.items[index]


class CptCollator:
    """Right-pads a batch: pad ids in ``input_ids``, -100 in ``labels``, 0 in the mask."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        ids, mask = pad_sequences([b["input_ids"] for b in batch], self.pad_id, "right")
        labels, _ = pad_sequences(
            [b["labels"] for b in batch], self.pad_id, "right", pad_value=IGNORE_INDEX
        )
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def run_cpt(
    cfg: TeacherConfig,
    examples: Sequence[CptExample],
    out_dir: str | Path,
    device: str = "auto",
) -> Path:
    """Continued pre-training of ``cfg.model`` on ``examples``; returns ``out_dir``.

    LoRA (``cfg.lora``) by default, full fine-tuning when ``cfg.lora.enabled`` is false.
    Writes ``adapter/`` (LoRA, safetensors), ``model/`` (the merged or fully trained model
    with its tokenizer, safetensors; what SFT starts from) and ``cpt.json``.
    """
    from transformers import Trainer

    if not examples:
        raise ValueError("run_cpt got no examples (no clicked rows with a title/summary?)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(device)
    set_seed(cfg.seed)
    model, tokenizer = load_decoder(cfg.model, cfg.gguf_file, causal_lm=True)
    model = apply_lora(model, cfg.lora, task_type="CAUSAL_LM")
    dataset = CptDataset(tokenizer, examples, cfg.cpt.template, cfg.cpt.max_length)
    args = teacher_training_arguments(cfg, cfg.cpt, out_dir, device)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=CptCollator(tokenizer.pad_token_id),
    )
    trainer.train()
    model = trainer.model
    _save_cpt(model, tokenizer, cfg, out_dir)
    atomic_write_json(
        out_dir / CPT_INFO_FILE,
        {
            "base_model": cfg.model,
            **with_relative_base(cfg.model, out_dir),
            "gguf_file": cfg.gguf_file,
            "lora": cfg.lora.model_dump() if cfg.lora.enabled else None,
            "template": cfg.cpt.template,
            "max_length": cfg.cpt.max_length,
            "examples": len(dataset),
            "steps": trainer.state.global_step,
            "losses": loss_history(trainer),
            "merged_model": (out_dir / MODEL_SUBDIR).is_dir(),
        },
    )
    return out_dir


def _save_cpt(model: Any, tokenizer: Any, cfg: TeacherConfig, out_dir: Path) -> None:
    model = model.to("cpu")
    if cfg.lora.enabled:
        model.save_pretrained(out_dir / ADAPTER_SUBDIR)
        if not cfg.cpt.merge_adapter:
            return
        model = model.merge_and_unload()
    model.save_pretrained(out_dir / MODEL_SUBDIR)
    tokenizer.save_pretrained(out_dir / MODEL_SUBDIR)


def load_cpt_model(cpt_dir: str | Path, *, causal_lm: bool = True) -> tuple[Any, Any]:
    """The CPT output as a plain model + tokenizer (merging the adapter if only it was saved)."""
    cpt_dir = Path(cpt_dir)
    if (cpt_dir / MODEL_SUBDIR).is_dir():
        return load_decoder(str(cpt_dir / MODEL_SUBDIR), causal_lm=causal_lm)
    info_path = cpt_dir / CPT_INFO_FILE
    if not ((cpt_dir / ADAPTER_SUBDIR).is_dir() and info_path.is_file()):
        raise FileNotFoundError(f"{cpt_dir} holds neither model/ nor adapter/ + cpt.json")
    from peft import PeftModel

    info = json.loads(info_path.read_text(encoding="utf-8"))
    base_model = base_model_path(info, cpt_dir)
    base, tokenizer = load_decoder(base_model, info.get("gguf_file"), causal_lm=True)
    merged = PeftModel.from_pretrained(base, str(cpt_dir / ADAPTER_SUBDIR)).merge_and_unload()
    return (merged if causal_lm else merged.get_decoder()), tokenizer


def cpt_model_path(cpt_dir: str | Path) -> str:
    """Path SFT loads as its backbone: the merged/full model saved by :func:`run_cpt`."""
    path = Path(cpt_dir) / MODEL_SUBDIR
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path} not found: run CPT with cpt.merge_adapter=true to start SFT from it"
        )
    return str(path.resolve())
