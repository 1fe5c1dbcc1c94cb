"""retrieval stage: first-stage BM25 (``bm25``: BM25Retriever, BM25Scorer) and the
bi-encoder scorer (``dense``: BiEncoderScorer). Import from the modules; this package
imports nothing heavy so ``--help`` stays fast."""
