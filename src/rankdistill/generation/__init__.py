"""Training queries written for passages: an LLM few-shot method (InPars / Promptagator), an
LLM-free crop method, and the filters that keep the good ones.

The entry point is :func:`rankdistill.generation.run.generate_queries`.
"""
