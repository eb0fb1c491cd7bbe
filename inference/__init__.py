"""Image generation library: phantoms, DiT, samplers, pipeline.

Imports nothing of Django so that a GPU worker can load it alone.
"""
