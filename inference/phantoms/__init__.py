"""Procedural phantom simulator: one virtual patient, one 3D body, radiograph / CT / laparoscopy renders.

Training data only ever comes from here (no downloaded images or weights). See docs/PHANTOMS.md.
"""

from .api import Sample, image_from_pixels, random_conditions, render, sample

__all__ = ["Sample", "image_from_pixels", "render", "random_conditions", "sample"]
