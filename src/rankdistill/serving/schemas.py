"""Request and response schemas of the rerank service (published in ``/openapi.json``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr


# ---------------------------------------------------------------------------- requests
def _integral_float(value: Any) -> Any:
    # JSON has one number type: 3.0 is an integer to JSON Schema, so it is one here too.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A count of at least 1 (JSON Schema "minimum": 1); bools and numeric strings are refused.
PositiveInt = Annotated[StrictInt, Field(ge=1), BeforeValidator(_integral_float)]


class DocumentObject(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: StrictStr


class RerankRequest(BaseModel):
    """Cohere (v1, v2) and Jina rerank request; other fields (``rank_fields``, ...) are
    ignored. ``texts`` belongs to the TEI shape and cannot be sent with ``documents``."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"not": {"required": ["texts"]}})
    model: StrictStr | None = Field(None, description="Ignored: the service has one model.")
    query: StrictStr
    documents: list[StrictStr | DocumentObject]
    top_n: PositiveInt | None = None
    return_documents: StrictBool = False
    max_tokens_per_doc: PositiveInt | None = Field(
        None, description="Document tokens scored at most (lowers the service's cap)."
    )


class TEIRerankRequest(BaseModel):
    """Hugging Face text-embeddings-inference rerank request (``POST /rerank`` only)."""

    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"not": {"required": ["documents"]}}
    )
    query: StrictStr
    texts: list[StrictStr]
    raw_scores: StrictBool = False
    return_text: StrictBool = False


REQUEST_MODELS: tuple[type[BaseModel], ...] = (RerankRequest, TEIRerankRequest)


# --------------------------------------------------------------------------- responses
class ResultDocument(BaseModel):
    text: str


class RerankResult(BaseModel):
    index: int
    relevance_score: float
    document: ResultDocument | None = Field(None, description="Only with return_documents.")


class BilledUnits(BaseModel):
    search_units: int
    input_tokens: int


class TokenCounts(BaseModel):
    input_tokens: int
    output_tokens: int = 0


class RerankMeta(BaseModel):
    billed_units: BilledUnits
    tokens: TokenCounts
    score: Literal["probability", "logit"] = Field(
        description="probability: the logistic of the logit, in [0, 1]; logit: raw."
    )
    backend: str
    documents: int
    windows_scored: int
    max_length: int


class Usage(BaseModel):
    total_tokens: int


class RerankResponse(BaseModel):
    id: str
    model: str
    results: list[RerankResult]
    meta: RerankMeta
    usage: Usage = Field(description="Jina's token count (same as meta.tokens.input_tokens).")


class TEIResult(BaseModel):
    index: int
    score: float
    text: str | None = Field(None, description="Only with return_text.")


class ErrorBody(BaseModel):
    type: str
    message: str
    limit: str | None = Field(None, description="The limit exceeded (413 only).")


class ErrorResponse(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    model: str
    kind: str
    backend: str
