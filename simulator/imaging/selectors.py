from __future__ import annotations

import numpy as np
from PIL import Image

from .models import GenerationJob


def job_pixels_array(*, job: GenerationJob) -> np.ndarray:
    """The job's native pixels as generated (CT back in signed HU)."""
    with job.image.open("rb") as handle:
        stored = np.asarray(Image.open(handle))
    offset = job.provenance.get("pixels", {}).get("stored_offset")
    if offset:
        return (stored.astype(np.int32) - offset).astype(np.int16)
    return stored
