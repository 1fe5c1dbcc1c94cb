"""evaluation stage (SPEC 5): ``metrics`` (evaluate_run through ir-measures, PNR),
``segments`` (per-segment tables), ``significance`` (paired tests), ``agreement``
(Kendall tau, top-k overlap) and ``report`` (rich / Markdown / JSON, PNG plots)."""
