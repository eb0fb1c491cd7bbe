"""`Conditions`: the one contract between the web side and the generator.

JSON-safe and frozen. The web side builds it from a case study; the worker rebuilds it with
`Conditions.from_json` and hands it to the pipeline. Every generated image stores it, so the image
can be regenerated from (weights, seed, conditions, sampler settings).
"""

from __future__ import annotations

import base64
import io
import json
import numbers
from dataclasses import asdict, dataclass, field

from .vocabulary import AGE_BANDS, FINDINGS, LATERALITIES, MODALITIES, SEVERITIES, SEXES, VIEWS

# Masks are painted and stored at this size for every modality; the model resamples them.
MASK_SIZE = 256
MAX_PROMPT_CHARS = 1000
MAX_FINDINGS = 8


class ConditionError(ValueError):
    """A condition that cannot be generated; the message names the bad value."""


@dataclass(frozen=True)
class Finding:
    key: str
    laterality: str = "none"
    location: str = ""  # lobe or zone ("RUL", "upper zone"); empty = the model chooses
    size_mm: float | None = None
    severity: str = "moderate"
    mask_png_b64: str = ""  # binary PNG, MASK_SIZE square; empty = the model places the finding

    def validate(self, modality: str) -> None:
        for name in ("key", "laterality", "location", "severity", "mask_png_b64"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ConditionError(f"finding {name} must be text, got {value!r}")
        if self.size_mm is not None and (isinstance(self.size_mm, bool) or not isinstance(self.size_mm, numbers.Real)):
            raise ConditionError(f"size_mm for {self.key!r} must be a number, got {self.size_mm!r}")
        kind = FINDINGS.get(self.key)
        if kind is None:
            raise ConditionError(f"unknown finding {self.key!r}")
        if modality not in kind.modalities:
            raise ConditionError(f"finding {self.key!r} is not visible in modality {modality!r}")
        if self.laterality not in LATERALITIES:
            raise ConditionError(f"unknown laterality {self.laterality!r} for {self.key!r}")
        if self.laterality not in kind.lateralities:
            allowed = ", ".join(kind.lateralities)
            raise ConditionError(
                f"laterality {self.laterality!r} is impossible for {self.key!r} (allowed: {allowed})"
            )
        if self.severity not in SEVERITIES:
            raise ConditionError(f"unknown severity {self.severity!r} for {self.key!r}")
        if self.size_mm is not None:
            if not kind.has_size:
                raise ConditionError(f"finding {self.key!r} takes no size")
            if not (0 < float(self.size_mm) <= 150):
                raise ConditionError(f"size {self.size_mm!r} mm for {self.key!r} is outside 0-150 mm")
        if self.mask_png_b64:
            self.mask_array()  # raises ConditionError when malformed

    def mask_array(self):
        """The mask as a bool numpy array (MASK_SIZE, MASK_SIZE), or None when not drawn."""
        if not self.mask_png_b64:
            return None
        import numpy as np
        from PIL import Image, UnidentifiedImageError

        try:
            raw = base64.b64decode(self.mask_png_b64, validate=True)
            image = Image.open(io.BytesIO(raw))
            if image.format != "PNG":
                raise ConditionError(f"mask for {self.key!r} is {image.format}, not PNG")
            array = np.asarray(image.convert("L"))
        except (ValueError, UnidentifiedImageError, OSError) as exc:
            raise ConditionError(f"mask for {self.key!r} is not a readable PNG ({exc})") from None
        if array.shape != (MASK_SIZE, MASK_SIZE):
            raise ConditionError(
                f"mask for {self.key!r} is {array.shape[1]}x{array.shape[0]}, expected {MASK_SIZE}x{MASK_SIZE}"
            )
        return array > 0


def mask_to_png_b64(mask) -> str:
    """Encode a 2D bool/0-1 array as the binary PNG string `Finding.mask_png_b64` expects."""
    import numpy as np
    from PIL import Image

    image = Image.fromarray((np.asarray(mask) > 0).astype("uint8") * 255, mode="L").convert("1")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class Conditions:
    modality: str = "cxr"
    view: str = "PA"
    prompt: str = ""
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    sex: str = "F"
    age_band: str = "40-59"
    slice_index: int | None = None  # CT: which slice of the stack
    frame_index: int | None = None  # laparoscopy: which frame of the clip

    def validate(self) -> "Conditions":
        for name in ("modality", "view", "prompt", "sex", "age_band"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ConditionError(f"{name} must be text, got {value!r}")
        for name in ("slice_index", "frame_index"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0):
                raise ConditionError(f"{name} must be a whole number >= 0, got {value!r}")
        if not isinstance(self.findings, tuple):
            raise ConditionError("findings must be a tuple of Finding")
        if self.modality not in MODALITIES:
            raise ConditionError(f"unknown modality {self.modality!r}")
        if self.view not in VIEWS[self.modality]:
            raise ConditionError(f"view {self.view!r} does not exist for modality {self.modality!r}")
        if self.sex not in SEXES:
            raise ConditionError(f"unknown sex {self.sex!r}")
        if self.age_band not in AGE_BANDS:
            raise ConditionError(f"unknown age band {self.age_band!r}")
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise ConditionError(f"prompt is {len(self.prompt)} characters, at most {MAX_PROMPT_CHARS}")
        if len(self.findings) > MAX_FINDINGS:
            raise ConditionError(f"{len(self.findings)} findings, at most {MAX_FINDINGS}")
        seen = set()
        for finding in self.findings:
            finding.validate(self.modality)
            if (finding.key, finding.laterality) in seen:
                raise ConditionError(f"finding {finding.key!r} ({finding.laterality}) is listed twice")
            seen.add((finding.key, finding.laterality))
        return self

    def to_json(self) -> dict:
        data = asdict(self)
        data["findings"] = [asdict(f) for f in self.findings]
        return data

    @classmethod
    def from_json(cls, data: dict | str) -> "Conditions":
        """Build and validate; raises ConditionError naming the first bad value."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise ConditionError(f"conditions are not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ConditionError("conditions must be a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConditionError(f"unknown condition field(s): {', '.join(sorted(unknown))}")
        findings_data = data.get("findings", [])
        if not isinstance(findings_data, list):
            raise ConditionError("findings must be a list")
        findings = []
        finding_fields = set(Finding.__dataclass_fields__)
        for item in findings_data:
            if not isinstance(item, dict) or "key" not in item:
                raise ConditionError("each finding must be an object with a 'key'")
            bad = set(item) - finding_fields
            if bad:
                raise ConditionError(f"unknown finding field(s): {', '.join(sorted(bad))}")
            findings.append(Finding(**item))
        return cls(**{**data, "findings": tuple(findings)}).validate()

    def digest(self) -> str:
        """Stable hash of the conditions, for provenance and caching."""
        import hashlib

        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]
