"""Settings of the first-stage retriever."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RetrievalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["given", "bm25"] = Field(
        "given", description="given: use the candidates in the data; bm25: retrieve with bm25s."
    )
    k: int = Field(100, description="Candidates kept per query.")
    k1: float = Field(0.9, description="BM25 term-frequency saturation (Anserini MS MARCO).")
    b: float = Field(0.4, description="BM25 length normalisation (Anserini MS MARCO).")
    bm25_variant: Literal["lucene", "robertson", "atire", "bm25l", "bm25+"] = "lucene"
    stemmer: str | None = Field("english", description="PyStemmer language; None disables.")
    stopwords: str | list[str] | None = Field(
        "en", description="bm25s stopword list name (en, de, fr...), an explicit list, or None."
    )
