"""teachers stage: the DisRanker fine-tuned LLM teacher (SPEC section 3).

- :mod:`rankdistill.teachers.cpt`: continued pre-training on clicks
  (``build_cpt_examples``, ``run_cpt``);
- :mod:`rankdistill.teachers.sft`: the LLM ranker with its end-token score head and
  rank-loss fine-tuning (``LLMRanker``, ``run_sft``, ``LLMTeacherScorer``);
- :mod:`rankdistill.teachers.scoring`: resumable, sharded teacher scoring into a label
  store (``score_pairs``, ``merge_shards``).

Submodules import torch and transformers, so this package imports nothing eagerly.
"""
