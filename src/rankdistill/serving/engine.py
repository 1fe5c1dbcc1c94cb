"""The inference engine: one :class:`Reranker` API over PyTorch and ONNX Runtime backends.

``Reranker.load(model_dir, backend=...)`` serves a student directory (``torch``) or its
ONNX export (``onnx``, ``onnx-int8``). For an ONNX backend it looks for, in order: the
directory itself when its ``rankdistill.json`` says it is that export; a sub-folder named
after the backend (the layout ``rankdistill export --out DIR`` writes); otherwise it
exports into a temporary folder that lives as long as the engine.

Scoring tokenises every distinct pair once, sorts the pairs by token length so each batch pads
to nearly its real length, runs the batches, and puts the scores back in input order.
Truncation: the query is kept (up to ``max_query_tokens``, default ``max_length // 2``)
and the document is cut to fit ``max_length`` (default: the manifest's ``max_length``, the
length the student was trained and exported with). :meth:`Reranker.plan_windows` splits
longer documents into windows instead (:mod:`rankdistill.scoring_windows`).
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rankdistill.scoring_windows import WindowConfig, WindowPlan, plan_windows
from rankdistill.serving.config import DEFAULT_BATCH_SIZE
from rankdistill.serving.encoding import make_pair_encoder, pad_batch
from rankdistill.serving.manifest import read_manifest, tokenizer_dir

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RerankResult:
    """One document of a reranked list: its position in the input, score and text."""

    index: int
    score: float
    document: str


@dataclass
class InferenceStats:
    """Running totals, for throughput and FLOP accounting in benchmarks."""

    pairs: int = 0
    batches: int = 0
    real_tokens: int = 0
    padded_tokens: int = 0
    # Sum over batches of batch_size * padded_length**2, for attention FLOPs.
    padded_sq_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, batch: dict[str, np.ndarray]) -> None:
        mask = batch["attention_mask"]
        with self._lock:
            self.pairs += mask.shape[0]
            self.batches += 1
            self.real_tokens += int(mask.sum())
            self.padded_tokens += int(mask.size)
            self.padded_sq_tokens += int(mask.shape[0] * mask.shape[1] ** 2)

    def reset(self) -> None:
        with self._lock:
            self.pairs = self.batches = self.real_tokens = 0
            self.padded_tokens = self.padded_sq_tokens = 0


class Backend(Protocol):
    """Runs one padded batch: int64 arrays by input name -> float32 scores [batch]."""

    name: str
    input_names: list[str]

    def run(self, batch: dict[str, np.ndarray]) -> np.ndarray: ...


class TorchBackend:
    """The student's scoring module in PyTorch (CPU or GPU)."""

    name = "torch"

    def __init__(
        self,
        model_dir: str,
        manifest: dict[str, Any],
        tokenizer: Any,
        threads: int | None,
        device: str = "cpu",
    ) -> None:
        import torch

        from rankdistill.serving.modules import load_scoring_module

        if threads:
            # Process-wide in PyTorch: the engine owns the process's intra-op pool.
            torch.set_num_threads(threads)
        self.device = device
        self.module = load_scoring_module(model_dir, manifest, tokenizer).to(device).eval()
        self.input_names = list(self.module.input_names)

    def run(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            inputs = [torch.from_numpy(batch[n]).to(self.device) for n in self.input_names]
            return self.module(*inputs).float().cpu().numpy()


class OnnxBackend:
    """An exported graph in ONNX Runtime (CPU execution provider)."""

    name = "onnx"

    def __init__(self, export_dir: str, manifest: dict[str, Any], threads: int | None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # One request at a time per session; parallelism lives inside the operators.
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        path = Path(export_dir) / manifest.get("onnx_file", "model.onnx")
        self.session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.name = str(manifest.get("backend", "onnx"))

    def run(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        (scores,) = self.session.run(["scores"], {n: batch[n] for n in self.input_names})
        return np.asarray(scores, dtype=np.float32).reshape(-1)


BACKENDS: dict[str, str] = {
    "torch": "PyTorch (the saved student)",
    "onnx": "ONNX Runtime, fp32 export",
    "onnx-int8": "ONNX Runtime, dynamic int8 export",
}


def rank_indices(scores: Sequence[float]) -> list[int]:
    """Indices by descending score; ties keep input order, NaN ranks last."""

    def key(i: int) -> float:
        s = scores[i]
        return math.inf if math.isnan(s) else -s

    return sorted(range(len(scores)), key=key)


def length_batches(
    order: Sequence[int], lengths: Sequence[int], batch_size: int, padding_slack: float | None
) -> list[list[int]]:
    """Cut ``order`` (indices sorted by ascending length) into batches of ``batch_size``.

    With ``padding_slack``, a batch also ends before the pair that would make its padded
    tokens exceed ``(1 + padding_slack)`` times its real tokens. A few dozen pairs of mixed
    lengths (one request, or a micro-batch of a few) then still pad little; fixed chunks
    of a short sorted list span a wide length range and pad a lot.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    real = 0
    for i in order:
        n = lengths[i]
        full = len(current) >= batch_size
        wasteful = padding_slack is not None and n * (len(current) + 1) > (real + n) * (
            1 + padding_slack
        )
        if current and (full or wasteful):
            batches.append(current)
            current, real = [], 0
        current.append(i)
        real += n
    if current:
        batches.append(current)
    return batches


def _locate_onnx_export(model_dir: Path, manifest: dict[str, Any], backend: str) -> Path | None:
    if manifest.get("backend") == backend:
        return model_dir
    sub = model_dir / backend
    if (sub / "rankdistill.json").is_file() and read_manifest(sub).get("backend") == backend:
        return sub
    return None


class Reranker:
    """Scores and reranks documents for a query with a saved or exported student.

    Implements :class:`rankdistill.scoring.Scorer` (``name`` and ``score``).
    """

    def __init__(
        self,
        backend: Backend,
        tokenizer: Any,
        manifest: dict[str, Any],
        *,
        max_length: int,
        batch_size: int = DEFAULT_BATCH_SIZE,
        padding_slack: float | None = None,
        model_dir: str = "",
        keep_alive: Any = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if padding_slack is not None and padding_slack < 0:
            raise ValueError(f"padding_slack must be >= 0, got {padding_slack}")
        self.backend = backend
        self.tokenizer = tokenizer
        self.manifest = manifest
        self.kind: str = manifest["kind"]
        self.max_length = max_length
        self.batch_size = batch_size
        self.padding_slack = padding_slack
        self.model_dir = model_dir
        self.encoder = make_pair_encoder(self.kind, tokenizer, max_length, manifest)
        pad = tokenizer.pad_token_id
        if pad is None:
            pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        self.pad_id: int = pad
        self.stats = InferenceStats()
        self._keep_alive = keep_alive  # e.g. the temporary export folder

    @property
    def name(self) -> str:
        return f"{self.kind}[{self.backend.name}]"

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        backend: str = "torch",
        threads: int | None = None,
        max_length: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str = "cpu",
        padding_slack: float | None = None,
    ) -> Reranker:
        """Load ``model_dir`` on ``backend`` (one of :data:`BACKENDS`).

        ``threads``: intra-op threads (``torch.set_num_threads`` for torch, which is
        process-wide; ``intra_op_num_threads`` for ONNX Runtime); ``None`` keeps the
        library default. ``device`` applies to the torch backend only. ``padding_slack``:
        see :func:`length_batches` (``None``: fixed batches of ``batch_size``).
        """
        from transformers import AutoTokenizer

        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
        from rankdistill.serving.modules import require_known_kind

        source = Path(model_dir)
        manifest = read_manifest(source)
        require_known_kind(source, manifest)
        keep_alive = None
        if backend == "torch":
            if manifest.get("backend", "torch") != "torch":
                raise ValueError(
                    f"{source} is an ONNX export ({manifest['backend']}); load the student "
                    "directory for the torch backend"
                )
            serve_dir = str(model_dir)
        else:
            found = _locate_onnx_export(source, manifest, backend)
            if found is None:
                from rankdistill.serving.export import export_onnx

                keep_alive = tempfile.TemporaryDirectory(prefix=f"rankdistill-{backend}-")
                logger.info("no %s export in %s: exporting to %s", backend, source, keep_alive.name)
                found = export_onnx(source, keep_alive.name, quantize_int8=backend == "onnx-int8")
            serve_dir = str(found)
            manifest = read_manifest(found)
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir(serve_dir))
        engine: Backend
        if backend == "torch":
            engine = TorchBackend(serve_dir, manifest, tokenizer, threads, device)
        else:
            engine = OnnxBackend(serve_dir, manifest, threads)
        return cls(
            engine,
            tokenizer,
            manifest,
            max_length=max_length or int(manifest["max_length"]),
            batch_size=batch_size,
            padding_slack=padding_slack,
            model_dir=serve_dir,
            keep_alive=keep_alive,
        )

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Scores of (query, document) pairs, in input order."""
        if not pairs:
            return []
        # A repeated pair is scored once: duplicates tie exactly (a batch row's position can
        # change the last bits of its score) and cost nothing.
        slot: dict[tuple[str, str], int] = {}
        where = [slot.setdefault((q, d), len(slot)) for q, d in pairs]
        unique = list(slot)
        encoded = self.encoder.encode([q for q, _ in unique], [d for _, d in unique])
        lengths = [len(ids) for ids in encoded["input_ids"]]
        # Sorting by length cuts padding; the sort is stable, so equal lengths keep order.
        order = sorted(range(len(unique)), key=lengths.__getitem__)
        scores = np.empty(len(unique), dtype=np.float32)
        for indices in length_batches(order, lengths, self.batch_size, self.padding_slack):
            batch = pad_batch(encoded, indices, self.backend.input_names, self.pad_id)
            self.stats.add(batch)
            scores[indices] = self.backend.run(batch)
        return [float(scores[i]) for i in where]

    def overhead_tokens(self, query: str) -> int:
        """Tokens of a (query, document) input that are not the document's."""
        return self.encoder.overhead_tokens(query)

    def document_room(self, query: str) -> int:
        """Document tokens that fit beside ``query`` in ``max_length``: the window size."""
        return max(self.max_length - self.overhead_tokens(query), 1)

    def plan_windows(
        self,
        query: str,
        documents: Sequence[str],
        cfg: WindowConfig,
        max_tokens_per_doc: int | None = None,
    ) -> WindowPlan:
        """The windows of ``documents`` for ``query`` (see :func:`plan_windows`)."""
        return plan_windows(
            self.tokenizer, documents, cfg, self.document_room(query), max_tokens_per_doc
        )

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        """The :class:`rankdistill.scoring.Scorer` interface."""
        return self.score_pairs([(query, d) for d in documents])

    def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None
    ) -> list[RerankResult]:
        """``documents`` by descending score (ties: lower index first), cut at ``top_n``."""
        if top_n is not None and top_n < 0:
            raise ValueError(f"top_n must be >= 0, got {top_n}")
        scores = self.score(query, documents)
        order = rank_indices(scores)[:top_n]
        return [RerankResult(i, scores[i], documents[i]) for i in order]
