"""labeling stage: LLM (or any-ranker) teacher labels (SPEC section 2).

- ``prompts`` / ``prompts/*.yaml``: versioned prompt templates;
- ``parsing``: robust parsing of ranked lists and grades; ``grading``: grades from lists;
- ``prerank``: pre-ranking and top-k + bottom-k selection;
- ``methods``: RRADistill listwise, RankGPT sliding window, pointwise yes/no and graded,
  any-ranker fusion, rationales (registry ``METHODS``);
- ``store``: the JSONL label store; ``stats``: label statistics;
- ``runner``: ``run_labeling`` (resumable, sharded across processes, or on Ray Data);
- ``backends`` and ``cache``: LLM backends behind one protocol, and the call cache.
"""
