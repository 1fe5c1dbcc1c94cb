"""RRA-GPT: a small decoder LM with a ranking layer (SPEC section 4.3).

The prompt ``Query: {q}\\nDocument: {d}\\nRelevant:`` goes through a causal decoder; a
light ranking layer (linear or a two-layer MLP) on the hidden state of the prompt's last
real token gives the relevance score. Training adds two LM terms that only the training
path computes:

- ``L_cls``: the LM cross-entropy of the answer token (``" yes"`` when the teacher listed
  the document / its grade is above 0, else ``" no"``), predicted at that same last
  prompt position;
- ``L_gen``: the LM loss on the rationale written after the answer (teacher-forced,
  prompt tokens masked).

Because the decoder is causal, the hidden state at the last prompt position does not
depend on the answer and rationale tokens that follow it, so one forward pass over
``prompt + answer + rationale`` yields the ranking score and both LM losses. Inference
runs the prompt alone, once, up to the ranking layer: no text is generated.

The decoder plumbing (loading, padding, pooling indices) lives in
:mod:`rankdistill.students.decoder`, shared with the DisRanker teacher and serving.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from rankdistill.students.base import RankLossFn, StudentModel, register_student
from rankdistill.students.decoder import (
    IGNORE_INDEX,
    PaddingSide,
    decoder_body,
    fit_prompt,
    gather_rows,
    last_hidden_states,
    last_real_token_index,
    load_decoder,
    pad_sequences,
    single_token_id,
    split_template,
)

PROMPT_TEMPLATE = "Query: {query}\nDocument: {document}\nRelevant:"
CARD_FILE = "rankdistill.json"
HEAD_FILE = "ranking_head.safetensors"


# ---------------------------------------------------------------------------
# The student
# ---------------------------------------------------------------------------


def build_head(kind: str, hidden_size: int) -> nn.Module:
    """The ranking layer: ``linear`` (H -> 1) or ``mlp`` (H -> H -> 1 with GELU)."""
    if kind == "linear":
        return nn.Linear(hidden_size, 1)
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(hidden_size, hidden_size), nn.GELU(), nn.Linear(hidden_size, 1)
        )
    raise ValueError(f"unknown RRA-GPT head {kind!r}; choose 'linear' or 'mlp'")


def normalise_answer(answer: Any) -> bool | None:
    """``True``/"yes"/grade>0 -> relevant, ``False``/"no"/0 -> not, ``None`` -> no label."""
    if answer is None:
        return None
    if isinstance(answer, str):
        word = answer.strip().lower()
        if word in {"yes", "true", "relevant", "1"}:
            return True
        if word in {"no", "false", "irrelevant", "0", ""}:
            return False
        raise ValueError(f"answer {answer!r} is not yes/no")
    return bool(float(answer) > 0)


@register_student
class RraGptStudent(StudentModel):
    """Decoder LM + ranking layer, trained with L_rank + beta * L_cls + gamma * L_gen."""

    kind = "rra-gpt"

    def __init__(
        self,
        backbone: str = "smollm2-135m",
        *,
        head: Literal["linear", "mlp"] = "linear",
        beta_cls: float = 0.5,
        gamma_gen: float = 0.2,
        max_length: int = 256,
        max_rationale_tokens: int = 48,
        padding_side: PaddingSide = "right",
        answer_words: tuple[str, str] = (" yes", " no"),
        gguf_file: str | None = None,
        model: nn.Module | None = None,
        tokenizer: Any = None,
    ) -> None:
        super().__init__()
        if model is None or tokenizer is None:
            model, tokenizer = load_decoder(backbone, gguf_file)
        self.lm = model
        self.tokenizer = tokenizer
        self.backbone_ref = backbone
        self.head_kind = head
        self.head = build_head(head, int(model.config.hidden_size))
        self.beta_cls = float(beta_cls)
        self.gamma_gen = float(gamma_gen)
        self.max_length = int(max_length)
        self.max_rationale_tokens = int(max_rationale_tokens)
        self.padding_side: PaddingSide = padding_side
        self.answer_words = tuple(answer_words)
        self.yes_id = single_token_id(tokenizer, answer_words[0])
        self.no_id = single_token_id(tokenizer, answer_words[1])

    @classmethod
    def from_config(cls, cfg: Any, **kwargs: Any) -> RraGptStudent:
        """Build from a ``StudentTrainConfig`` (``max_length`` and the ``cfg.rra_gpt``
        section, whose fields are this constructor's keywords)."""
        return cls(max_length=cfg.max_length, **cfg.rra_gpt.model_dump(), **kwargs)

    # -- tokenisation -------------------------------------------------------

    def _prompt_ids(self, query: str, document: str) -> list[int]:
        """Prompt token ids; the document is cut so the whole prompt fits ``max_length``."""
        tok = self.tokenizer
        head, document, tail = split_template(PROMPT_TEMPLATE, query, document)
        head_ids, doc_ids, tail_ids = tok([head, document, tail], add_special_tokens=False)[
            "input_ids"
        ]
        return fit_prompt(head_ids, doc_ids, tail_ids, self.max_length)

    def _continuation(self, answer: bool | None, rationale: str | None) -> tuple[list[int], int]:
        """Tokens after the prompt (answer, rationale, EOS) and how many are rationale+EOS."""
        if answer is None:
            return [], 0
        ids = [self.yes_id if answer else self.no_id]
        text = (rationale or "").strip()
        if not text:
            return ids, 0
        rationale_ids = self.tokenizer(" " + text, add_special_tokens=False)["input_ids"]
        rationale_ids = rationale_ids[: self.max_rationale_tokens]
        eos = self.tokenizer.eos_token_id
        tail = [*rationale_ids, eos] if eos is not None else rationale_ids
        return ids + tail, len(tail)

    def encode_pairs(
        self,
        queries: Sequence[str],
        documents: Sequence[str],
        answers: Sequence[Any] | None = None,
        rationales: Sequence[str | None] | None = None,
        **extra: Any,
    ) -> dict[str, Tensor]:
        """Features for the pairs; with ``answers`` also the LM targets for training.

        Returns ``input_ids`` / ``attention_mask`` / ``score_index`` (the last prompt
        token, where the ranking layer reads and the answer is predicted). With
        ``answers``, sequences continue with the answer token and the rationale, and
        ``cls_labels`` / ``gen_labels`` hold, at position p, the token expected at p+1
        (-100 elsewhere: prompt tokens never count).
        """
        if len(queries) != len(documents):
            raise ValueError(f"{len(queries)} queries for {len(documents)} documents")
        n = len(queries)
        for name, values in (("answers", answers), ("rationales", rationales)):
            if values is not None and len(values) != n:
                raise ValueError(f"{name} has {len(values)} entries for {n} pairs")
        prompts = [self._prompt_ids(q, d) for q, d in zip(queries, documents, strict=True)]
        if answers is None:
            ids, mask = pad_sequences(prompts, self.tokenizer.pad_token_id, self.padding_side)
            index = last_real_token_index(mask)
            return {"input_ids": ids, "attention_mask": mask, "score_index": index}
        return self._encode_training(prompts, answers, rationales)

    def _encode_training(
        self,
        prompts: list[list[int]],
        answers: Sequence[Any],
        rationales: Sequence[str | None] | None,
    ) -> dict[str, Tensor]:
        sequences: list[list[int]] = []
        cls_rows: list[list[int]] = []
        gen_rows: list[list[int]] = []
        for i, prompt in enumerate(prompts):
            answer = normalise_answer(answers[i])
            cont, n_gen = self._continuation(answer, None if rationales is None else rationales[i])
            seq = prompt + cont
            cls = [IGNORE_INDEX] * len(seq)
            gen = [IGNORE_INDEX] * len(seq)
            last_prompt = len(prompt) - 1
            if answer is not None:
                cls[last_prompt] = cont[0]
            # The answer token at last_prompt+1 predicts the first rationale token, etc.
            for offset in range(n_gen):
                pos = last_prompt + 1 + offset
                gen[pos] = seq[pos + 1]
            sequences.append(seq)
            cls_rows.append(cls)
            gen_rows.append(gen)
        pad_id = self.tokenizer.pad_token_id
        ids, mask = pad_sequences(sequences, pad_id, self.padding_side)
        cls_labels, _ = pad_sequences(cls_rows, pad_id, self.padding_side, pad_value=IGNORE_INDEX)
        gen_labels, _ = pad_sequences(gen_rows, pad_id, self.padding_side, pad_value=IGNORE_INDEX)
        prompt_lengths = torch.tensor([len(p) for p in prompts])
        real_lengths = mask.sum(-1)
        # Where each row's prompt ends inside its padded sequence.
        offset = 0 if self.padding_side == "right" else (ids.shape[1] - real_lengths)
        score_index = offset + prompt_lengths - 1
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "score_index": score_index,
            "cls_labels": cls_labels,
            "gen_labels": gen_labels,
        }

    # -- model --------------------------------------------------------------

    def hidden_states(self, features: dict[str, Tensor]) -> Tensor:
        """Last-layer hidden states [n, L, H] (position ids from the mask: padding-side safe)."""
        return last_hidden_states(decoder_body(self.lm), features)

    def _score_from_hidden(self, hidden: Tensor, features: dict[str, Tensor]) -> Tensor:
        index = features.get("score_index")
        if index is None:
            index = last_real_token_index(features["attention_mask"])
        pooled = gather_rows(hidden, index.to(hidden.device))
        return self.head(pooled.to(self._head_dtype())).squeeze(-1)

    def _head_dtype(self) -> torch.dtype:
        return next(self.head.parameters()).dtype

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        """Scores [n]: one decoder pass, then the ranking layer. Never generates text."""
        return self._score_from_hidden(self.hidden_states(features), features)

    def lm_loss(self, hidden: Tensor, labels: Tensor, pair_mask: Tensor) -> Tensor:
        """Mean token cross-entropy of the LM head over positions with a label.

        Only the labelled positions go through the LM head (a vocabulary-sized matmul),
        and pairs whose ``pair_mask`` is false (query-group padding) are dropped.
        """
        keep = (labels != IGNORE_INDEX) & pair_mask.unsqueeze(-1)
        if not bool(keep.any()):
            return hidden.sum() * 0.0
        logits = self.lm.get_output_embeddings()(hidden[keep])
        return nn.functional.cross_entropy(logits.float(), labels[keep])

    def training_loss(
        self, features: dict[str, Tensor], labels: Tensor, mask: Tensor, rank_loss: RankLossFn
    ) -> tuple[Tensor, dict[str, float]]:
        """L_rank(score) + beta * L_cls + gamma * L_gen; a zero weight skips its term."""
        hidden = self.hidden_states(features)
        scores = self._score_from_hidden(hidden, features).view_as(labels)
        loss = rank_loss(scores, labels, mask)
        parts = {"rank": float(loss.detach())}
        pair_mask = mask.reshape(-1).to(hidden.device)
        for weight, key, name in (
            (self.beta_cls, "cls_labels", "cls"),
            (self.gamma_gen, "gen_labels", "gen"),
        ):
            if weight == 0.0 or key not in features:
                continue
            term = self.lm_loss(hidden, features[key].to(hidden.device), pair_mask)
            loss = loss + weight * term
            parts[name] = float(term.detach())
        parts["total"] = float(loss.detach())
        return loss, parts

    # -- persistence ----------------------------------------------------------

    def card(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "backbone": self.backbone_ref,
            "head": self.head_kind,
            "max_length": self.max_length,
            "max_rationale_tokens": self.max_rationale_tokens,
            "padding_side": self.padding_side,
            "answer_words": list(self.answer_words),
            "prompt_template": PROMPT_TEMPLATE,
            "beta_cls": self.beta_cls,
            "gamma_gen": self.gamma_gen,
        }

    def save_for_inference(self, directory: str | Path, card: dict[str, Any] | None = None) -> Path:
        """Decoder (fp32 safetensors) + tokenizer + ``ranking_head.safetensors`` + card."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # fp32 copies of the weights: the live model keeps whatever dtype it trains in.
        state = {k: v.detach().float() for k, v in self.lm.state_dict().items()}
        self.lm.save_pretrained(directory / "decoder", state_dict=state)
        self.tokenizer.save_pretrained(directory / "decoder")
        head_state = {
            k: v.detach().float().cpu().contiguous() for k, v in self.head.state_dict().items()
        }
        save_file(head_state, str(directory / HEAD_FILE))
        info = {**self.card(), **(card or {})}
        (directory / CARD_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> RraGptStudent:
        from safetensors.torch import load_file

        directory = Path(directory)
        card_path = directory / CARD_FILE
        if not card_path.is_file():
            raise FileNotFoundError(f"{card_path} not found: not a saved RRA-GPT student")
        info = json.loads(card_path.read_text(encoding="utf-8"))
        if info.get("kind") != cls.kind:
            raise ValueError(f"{card_path}: kind {info.get('kind')!r} is not {cls.kind!r}")
        model, tokenizer = load_decoder(str(directory / "decoder"))
        student = cls(
            backbone=info.get("backbone", str(directory)),
            head=info["head"],
            beta_cls=info.get("beta_cls", 0.0),
            gamma_gen=info.get("gamma_gen", 0.0),
            max_length=info["max_length"],
            max_rationale_tokens=info.get("max_rationale_tokens", 48),
            padding_side=info.get("padding_side", "right"),
            answer_words=tuple(info.get("answer_words", (" yes", " no"))),
            model=model,
            tokenizer=tokenizer,
        )
        student.head.load_state_dict(load_file(str(directory / HEAD_FILE)))
        return student.to(device).eval()
