"""Decoder plumbing shared by the decoder models: the RRA-GPT student, the DisRanker
teacher and the serving encoders.

Loading a causal LM (or its bare body) from a packaged alias, a local path, a GGUF file or
a hub id; padding token ids on either side with correct position ids; finding the last
real token from the attention mask; and cutting a prompt template around a document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from rankdistill.resources import resolve_model

PaddingSide = Literal["left", "right"]
IGNORE_INDEX = -100  # the label the LM losses skip (prompt and padding positions)


def load_decoder(
    model: str,
    gguf_file: str | None = None,
    *,
    causal_lm: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[nn.Module, Any]:
    """Load a decoder and its tokenizer from an alias, a local path, a GGUF file or a hub id.

    GGUF weights are dequantised into ordinary fp32 modules (``GgufConfig(dequantize=True)``)
    so they can be fine-tuned and saved with ``save_pretrained``. ``causal_lm=False`` loads
    the bare decoder (no LM head), enough for a score head. The tokenizer gets a pad token
    (its EOS) when it has none.
    """
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    ref = resolve_model(model, gguf_file)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if ref.gguf_file:
        from transformers import GgufConfig

        kwargs["gguf_file"] = ref.gguf_file
        # Without this the model keeps a GGUF quantizer that refuses to train or save.
        kwargs["quantization_config"] = GgufConfig(dequantize=True)
    auto = AutoModelForCausalLM if causal_lm else AutoModel
    network = auto.from_pretrained(ref.path, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(
        ref.path, **({"gguf_file": ref.gguf_file} if ref.gguf_file else {})
    )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return network, tokenizer


def decoder_body(model: nn.Module) -> nn.Module:
    """The transformer body of a causal LM (its hidden states, without the LM head)."""
    get_decoder = getattr(model, "get_decoder", None)
    body = get_decoder() if callable(get_decoder) else None
    return body if body is not None else model


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    pad_id: int,
    side: PaddingSide = "right",
    *,
    pad_value: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Pad token-id lists to one length on ``side``: (ids [n, L], attention_mask [n, L]).

    ``pad_value`` (default ``pad_id``) fills padded slots, so the same function pads label
    rows with -100.
    """
    fill = pad_id if pad_value is None else pad_value
    length = max((len(s) for s in sequences), default=0)
    ids = torch.full((len(sequences), max(length, 1)), fill, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, seq in enumerate(sequences):
        n = len(seq)
        if n == 0:
            continue
        start = 0 if side == "right" else ids.shape[1] - n
        ids[row, start : start + n] = torch.tensor(list(seq), dtype=torch.long)
        mask[row, start : start + n] = 1
    return ids, mask


def position_ids_from_mask(attention_mask: Tensor) -> Tensor:
    """0, 1, 2... over the real tokens of each row, so left padding does not shift positions."""
    return (attention_mask.long().cumsum(-1) - 1).clamp_min(0)


def last_hidden_states(body: nn.Module, features: Mapping[str, Tensor]) -> Tensor:
    """Last-layer hidden states [n, L, H] of a decoder body, with position ids from the
    attention mask, so left and right padding give the same states."""
    mask = features["attention_mask"]
    out = body(
        input_ids=features["input_ids"],
        attention_mask=mask,
        position_ids=position_ids_from_mask(mask),
    )
    return out.last_hidden_state


def last_real_token_index(attention_mask: Tensor) -> Tensor:
    """Index of each row's last real token, from the mask (right- or left-padded alike)."""
    positions = torch.arange(attention_mask.shape[-1], device=attention_mask.device)
    return (attention_mask.long() * (positions + 1)).argmax(-1)


def gather_rows(hidden: Tensor, index: Tensor) -> Tensor:
    """``hidden[i, index[i]]`` for every row i: [n, L, H] -> [n, H]."""
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), index]


def split_template(template: str, query: str, document: str) -> tuple[str, str, str]:
    """(text before the document, the document, text after it), for separate tokenising.

    Whitespace that ends the head moves onto the document (``"document: " + "x"`` ->
    ``"document:" + " x"``), so BPE tokenisers see the word-initial space they expect.
    """
    head, tail = template.split("{document}", 1)
    head = head.format(query=query)
    stripped = head.rstrip()
    return stripped, head[len(stripped) :] + document, tail


def fit_prompt(
    head_ids: list[int], doc_ids: list[int], tail_ids: list[int], max_length: int
) -> list[int]:
    """The prompt's token ids cut to ``max_length``: the text around the document is kept
    and the document gets the room left. A query so long that nothing fits keeps the last
    tokens, where ``Relevant:`` sits. Training and serving both cut with this rule."""
    room = max(max_length - len(head_ids) - len(tail_ids), 0)
    return (head_ids + doc_ids[:room] + tail_ids)[-max_length:]


def single_token_id(tokenizer: Any, text: str) -> int:
    """The id of ``text`` if the tokenizer encodes it as exactly one token, else an error."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"{text!r} must be one token for this tokenizer, got {len(ids)}: {ids}")
    return int(ids[0])
