"""Bi-encoder scorer on sentence-transformers (zero-shot pre-ranker and baseline)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from rankdistill.resources import resolve_model
from rankdistill.utils import resolve_device


class BiEncoderScorer:
    """Scores documents by embedding similarity with a sentence-transformers model.

    ``model`` is a packaged alias (``minilm-l6``), a local directory or a hub id. With
    ``normalize=True`` embeddings are L2-normalised, so the score is the cosine
    similarity; with ``normalize=False`` it is the raw dot product (for models trained
    for it).

    Document embeddings are kept in a bounded cache keyed by text (``cache_size``
    documents, oldest evicted first; 0 disables it): in a pipeline the same candidates
    are scored by the pre-ranker, the teacher and again on dev, and encoding them is
    the whole cost. At 384 dimensions 50,000 documents take about 75 MB.
    """

    def __init__(
        self,
        model: str = "minilm-l6",
        device: str = "auto",
        batch_size: int = 32,
        normalize: bool = True,
        cache_size: int = 50_000,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        ref = resolve_model(model)
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.normalize = normalize
        self.name = f"bi-encoder:{ref.label}"
        self.model: Any = SentenceTransformer(ref.path, device=self.device)
        self.cache_size = cache_size
        self._doc_cache: OrderedDict[str, Any] = OrderedDict()

    @property
    def max_length(self) -> int:
        """Tokens the model reads of a query or a document (the rest is cut)."""
        return int(self.model.max_seq_length)

    @max_length.setter
    def max_length(self, length: int) -> None:
        self.model.max_seq_length = int(length)
        self._doc_cache.clear()  # embeddings of the old cut

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        """Cosine (or dot-product) similarity of ``query`` to each document."""
        if not documents:
            return []
        encode = {
            "batch_size": self.batch_size,
            "convert_to_tensor": True,
            "normalize_embeddings": self.normalize,
            "show_progress_bar": False,
        }
        # encode_query / encode_document apply the model's own query and document prompts
        # (e5, bge...); for models without prompts they equal plain encode.
        query_embedding = self.model.encode_query([query], **encode)
        doc_embeddings = self._encode_documents(list(documents), encode)
        return (doc_embeddings @ query_embedding[0]).float().cpu().tolist()

    def _encode_documents(self, documents: list[str], encode: dict[str, Any]) -> Any:
        import torch

        new = list(dict.fromkeys(d for d in documents if d not in self._doc_cache))
        if new:
            for text, emb in zip(new, self.model.encode_document(new, **encode), strict=True):
                self._doc_cache[text] = emb
        stacked = torch.stack([self._doc_cache[d] for d in documents])
        while len(self._doc_cache) > self.cache_size:
            self._doc_cache.popitem(last=False)
        return stacked
