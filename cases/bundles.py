"""Case bundles: one case version as a zip (`case.json` + one binary mask PNG per drawn finding).

The format is documented in docs/BUNDLES.md. `build_bundle` writes one; `parse_bundle` reads and
validates one and either returns what `case_create` needs or raises `BundleError` listing EVERY
problem found (not just the first). `import_bundle` is the one write: a new draft case through
`case_create`, atomic, so a rejected bundle leaves nothing behind.

An uploaded zip is hostile until proven otherwise: sizes are checked before anything is read
(compressed size, member count, declared uncompressed sizes and ratios), names are checked for
traversal and duplicates, and members are then read in chunks with a running count, so a header
that lies about its size cannot make us decompress more than the limits.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from inference.conditions import MASK_SIZE, MAX_FINDINGS, ConditionError, Conditions, Finding, mask_to_png_b64
from inference.vocabulary import FINDINGS, LATERALITIES, MODALITIES, SEVERITIES

from .models import VITAL_FIELDS, CaseVersion, Study, VersionStatus
from .services import CONTENT_FIELDS, STUDY_FIELDS, CaseContent, StudyInput, _check_content, case_create

FORMAT = "radsim-case-bundle"
SCHEMA_VERSION = 1
CASE_JSON = "case.json"
MASK_DIR = "masks/"
FILE_SUFFIX = ".radsim.zip"

MiB = 1024 * 1024
MAX_BUNDLE_BYTES = 10 * MiB  # the zip as uploaded
MAX_UNCOMPRESSED_BYTES = 50 * MiB  # all members together, decompressed
MAX_RATIO = 100  # decompressed / compressed, per member
MAX_MEMBERS = 200
MAX_CASE_JSON_BYTES = 2 * MiB
MAX_MASK_BYTES = 1 * MiB
_CHUNK = 64 * 1024

# Finding fields in a bundle: the stored finding fields, with the mask as a member path instead of base64.
FINDING_FIELDS = ("key", "laterality", "location", "size_mm", "severity", "mask")
_MASK_NAME = re.compile(r"^masks/[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.png$")


class BundleError(Exception):
    """The bundle was rejected; `problems` lists every reason, each naming the file/field and value."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class ParsedBundle:
    content: CaseContent
    studies: list[StudyInput]
    kg_version: str  # the knowledge graph the exporting server had


# ---------------------------------------------------------------------------------------------- export


def bundle_version(case) -> CaseVersion | None:
    """The version a bundle exports: the draft, else the published one, else the latest (archived)."""
    versions = case.versions.all()
    return (versions.filter(status=VersionStatus.DRAFT).first()
            or versions.filter(status=VersionStatus.PUBLISHED).first()
            or versions.order_by("-number").first())


def bundle_filename(version: CaseVersion) -> str:
    return f"{slugify(version.title)[:80] or 'case'}{FILE_SUFFIX}"


def mask_png_bytes(mask_png_b64: str, *, where: str = "mask") -> bytes:
    """A stored mask as the bundle's PNG: 8-bit grayscale, 0/255, MASK_SIZE square."""
    import numpy as np
    from PIL import Image

    array = Finding(key=where, mask_png_b64=mask_png_b64).mask_array()
    buffer = io.BytesIO()
    image = Image.fromarray(np.where(array, 255, 0).astype("uint8"), mode="L")
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def build_bundle(version: CaseVersion, *, kg_version: str, exported_at: str) -> bytes:
    """The zip for one version: case.json plus masks/<study>-<finding>.png (1-based indexes)."""
    masks: dict[str, bytes] = {}
    studies = []
    for s_index, study in enumerate(version.studies.order_by("id"), start=1):
        data = {name: getattr(study, name) for name in STUDY_FIELDS}
        findings = []
        for f_index, finding in enumerate(study.findings, start=1):
            item = {k: v for k, v in finding.items() if k != "mask_png_b64"}
            if finding.get("mask_png_b64"):
                name = f"{MASK_DIR}{s_index}-{f_index}.png"
                masks[name] = mask_png_bytes(finding["mask_png_b64"], where=finding.get("key", "mask"))
                item["mask"] = name
            findings.append(item)
        data["findings"] = findings
        studies.append(data)
    document = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "exported_at": exported_at,
        "kg_version": kg_version,
        "case": {name: getattr(version, name) for name in CONTENT_FIELDS},
        "studies": studies,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(CASE_JSON, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        for name, png in masks.items():
            archive.writestr(name, png)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------- import


def _mib(n: int) -> str:
    return f"{n / MiB:.1f} MiB"


def _bad_name(name: str) -> str | None:
    if not name:
        return "has an empty name"
    if "\\" in name:
        return "uses backslashes"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "leaves the bundle (path traversal)"
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "contains control characters"
    return None


def _open_zip(data: bytes) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """Checks that need no decompression; raises BundleError listing every problem."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError([f"The bundle is {len(data)} bytes; at most {MAX_BUNDLE_BYTES} bytes "
                           f"({_mib(MAX_BUNDLE_BYTES)}) are accepted."])
    if not data:
        raise BundleError(["The upload is empty, not a zip file."])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        if data[:2] != b"PK":
            raise BundleError(["The upload is not a zip file."]) from None
        raise BundleError([f"The zip file is corrupt ({exc})."]) from None
    except (OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise BundleError([f"The zip file is corrupt ({exc})."]) from None
    if len(infos) > MAX_MEMBERS:
        raise BundleError([f"The bundle has {len(infos)} members; at most {MAX_MEMBERS} are accepted."])
    problems = []
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        why = _bad_name(name)
        if why:
            problems.append(f"Member {name!r} {why}.")
            continue
        if name in members:
            problems.append(f"Member {name!r} appears more than once.")
            continue
        members[name] = info
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            problems.append(f"Member {name!r} is encrypted.")
        total += info.file_size
        ratio_base = max(info.compress_size, 1)
        if info.file_size > MAX_RATIO * ratio_base:
            problems.append(f"Member {name!r} declares {info.file_size} bytes from {info.compress_size} "
                            f"compressed (ratio over {MAX_RATIO}): refused as a zip bomb.")
    if total > MAX_UNCOMPRESSED_BYTES:
        problems.append(f"The members declare {_mib(total)} uncompressed; "
                        f"at most {_mib(MAX_UNCOMPRESSED_BYTES)} is accepted (zip bomb).")
    if problems:
        raise BundleError(problems)
    return archive, {name: info for name, info in members.items() if not info.is_dir()}


class _Budget:
    def __init__(self):
        self.left = MAX_UNCOMPRESSED_BYTES


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget, cap: int) -> bytes:
    """A member's bytes, read in chunks; never more than its declared size, its cap or the total budget."""
    name = info.filename
    if info.file_size > cap:
        raise BundleError([f"{name} is {info.file_size} bytes; at most {cap} are accepted."])
    limit = min(info.file_size, cap, budget.left)
    chunks, size = [], 0
    try:
        with archive.open(info) as stream:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise BundleError([f"{name} decompresses past its declared {info.file_size} bytes or the "
                                       f"{_mib(MAX_UNCOMPRESSED_BYTES)} limit: refused as a zip bomb."])
                chunks.append(chunk)
    except BundleError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise BundleError([f"{name} is corrupt in the zip ({exc})."]) from None
    budget.left -= size
    return b"".join(chunks)


def _read_mask(png: bytes, where: str) -> tuple[str | None, list[str]]:
    """(mask_png_b64 in the app's canonical encoding, problems) for a bundle mask."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(png))
        if image.format != "PNG":
            return None, [f"{where} is {image.format}, not a PNG."]
        if image.size != (MASK_SIZE, MASK_SIZE):  # checked from the header, before decoding pixels
            width, height = image.size
            return None, [f"{where} is {width}x{height}; masks must be {MASK_SIZE}x{MASK_SIZE}."]
        if image.mode not in ("1", "L"):
            return None, [f"{where} is a {image.mode} image; masks must be grayscale (0 and 255)."]
        array = np.asarray(image.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return None, [f"{where} is not a readable PNG ({exc})."]
    values = np.unique(array)
    stray = [int(v) for v in values if v not in (0, 255)]
    if stray:
        shown = ", ".join(str(v) for v in stray[:8]) + (", ..." if len(stray) > 8 else "")
        return None, [f"{where} is not binary: it has pixel values {shown} (masks must be exactly 0 or 255)."]
    return mask_to_png_b64(array == 255), []


_VITAL_NAMES = {name for name, *_ in VITAL_FIELDS}
_STR, _INT, _NUM = "text", "whole number", "number"
CASE_TYPES = {
    "title": _STR, "patient_age": _INT, "patient_sex": _STR, "presenting_complaint": _STR,
    "history": "object",
    "vitals": "object", "exam": _STR, "diagnosis_id": _STR, "diagnosis": _STR, "diagnosis_synonyms": _STR,
    "differentials": "list", "teaching_point": _STR, "kg_version": _STR,
}
STUDY_TYPES = {
    "title": _STR, "modality": _STR, "view": _STR, "prompt": _STR, "findings": "list", "seed_policy": _STR,
    "seed": _INT, "slice_count": _INT + " or null", "frame_count": _INT + " or null",
}
FINDING_TYPES = {"key": _STR, "laterality": _STR, "location": _STR, "size_mm": _NUM + " or null",
                 "severity": _STR, "mask": _STR}


def _is(value, kind: str) -> bool:
    if kind.endswith(" or null"):
        return value is None or _is(value, kind.removesuffix(" or null"))
    if kind == _STR:
        return isinstance(value, str)
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    raise AssertionError(kind)


def _check_object(data, types: dict, where: str, problems: list[str], *, required) -> bool:
    """Type-check one JSON object against its field table; False when it cannot be read further."""
    if not isinstance(data, dict):
        problems.append(f"{where} must be an object, not {type(data).__name__}.")
        return False
    ok = True
    for name in sorted(set(data) - set(types)):
        problems.append(f"{where}.{name}: unknown field.")
        ok = False
    for name in required:
        if name not in data:
            problems.append(f"{where}.{name}: missing field.")
            ok = False
    for name, kind in types.items():
        if name in data and not _is(data[name], kind):
            problems.append(f"{where}.{name}: must be a {kind}, not {json.dumps(data[name])[:80]}.")
            ok = False
    return ok


def _validation_messages(exc: ValidationError, where: str) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{where}.{field}: {message}" if field != "__all__" else f"{where}: {message}"
                for field, messages in exc.message_dict.items() for message in messages]
    return [f"{where}: {message}" for message in exc.messages]


def _check_case(data: dict, problems: list[str]) -> CaseContent | None:
    where = f"{CASE_JSON}: case"
    if not _check_object(data, CASE_TYPES, where, problems, required=CONTENT_FIELDS):
        return None
    before = len(problems)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in data["history"].items()):
        problems.append(f"{where}.history: every entry must be text.")
    if not all(isinstance(d, str) for d in data["differentials"]):
        problems.append(f"{where}.differentials: must be a list of knowledge-graph ids (text).")
    if len(problems) > before:
        return None
    content = CaseContent(**{name: data[name] for name in CONTENT_FIELDS})
    try:
        _check_content(content)  # vitals ranges, history names, KG diagnosis and differential ids
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            if field in _VITAL_NAMES:  # a vital sign out of range: name it where it is, with its value
                messages = [f"{m.rstrip('.')} (got {json.dumps(data['vitals'][field])})." for m in messages]
                field = f"vitals.{field}"
            problems.extend(f"{where}.{field}: {m}" for m in messages)
    version = CaseVersion(**{name: data[name] for name in CONTENT_FIELDS})
    try:  # lengths, choices, required text; DB constraints are checked again on save
        version.full_clean(exclude=[f.name for f in CaseVersion._meta.fields if f.name not in CONTENT_FIELDS],
                           validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        problems.extend(_validation_messages(exc, where))
    if data["patient_age"] > 120:
        problems.append(f"{where}.patient_age: {data['patient_age']} is over 120.")
    return content


def _finding_problems(finding: dict, modality: str) -> list[str]:
    """Every problem of one finding (Finding.validate stops at the first); same wording."""
    key = finding["key"]
    kind = FINDINGS.get(key)
    laterality = finding.get("laterality", "none")
    problems = []
    if kind is None:
        problems.append(f"unknown finding {key!r}")
    elif modality in MODALITIES and modality not in kind.modalities:
        problems.append(f"finding {key!r} is not visible in modality {modality!r}")
    if laterality not in LATERALITIES:
        problems.append(f"unknown laterality {laterality!r} for {key!r}")
    elif kind is not None and laterality not in kind.lateralities:
        problems.append(f"laterality {laterality!r} is impossible for {key!r} "
                        f"(allowed: {', '.join(kind.lateralities)})")
    if finding.get("severity", "moderate") not in SEVERITIES:
        problems.append(f"unknown severity {finding['severity']!r} for {key!r}")
    size = finding.get("size_mm")
    if size is not None and kind is not None:
        if not kind.has_size:
            problems.append(f"finding {key!r} takes no size")
        elif not 0 < size <= 150:
            problems.append(f"size {size!r} mm for {key!r} is outside 0-150 mm")
    return problems


def _check_study(data, index: int, read_mask, problems: list[str]) -> StudyInput | None:
    where = f"{CASE_JSON}: studies[{index}]"
    if not _check_object(data, STUDY_TYPES, where, problems, required=STUDY_FIELDS):
        return None
    label = f"{where} ({data['title']!r})"
    findings = []
    seen = set()
    for f_index, item in enumerate(data["findings"]):
        f_where = f"{where}.findings[{f_index}]"
        if not _check_object(item, FINDING_TYPES, f_where, problems, required=("key",)):
            continue
        finding = {k: v for k, v in item.items() if k != "mask"}
        finding_problems = _finding_problems(finding, data["modality"])
        if not finding_problems:
            try:  # the generator's own check, in case it knows more than the list above
                Finding(**finding).validate(data["modality"])
            except (ConditionError, TypeError, ValueError) as exc:
                finding_problems = [str(exc)]
        problems.extend(f"{f_where}: {p}." for p in finding_problems)
        pair = (item["key"], item.get("laterality", "none"))
        if pair in seen:
            problems.append(f"{f_where}: finding {pair[0]!r} ({pair[1]}) is listed twice.")
        seen.add(pair)
        if "mask" in item:
            encoded = read_mask(item["mask"], f"{f_where}.mask")
            if encoded:
                finding["mask_png_b64"] = encoded
        findings.append(finding)
    if len(data["findings"]) > MAX_FINDINGS:
        problems.append(f"{where}.findings: {len(data['findings'])} findings, at most {MAX_FINDINGS}.")
    if data["modality"] in MODALITIES:
        try:
            Conditions(modality=data["modality"], view=data["view"], prompt=data["prompt"]).validate()
        except ConditionError as exc:
            problems.append(f"{label}: {exc}.")
    study = Study(**{name: data[name] for name in STUDY_FIELDS if name != "findings"})
    try:
        excluded = [f.name for f in Study._meta.fields if f.name not in STUDY_FIELDS] + ["findings"]
        study.full_clean(exclude=excluded, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        problems.extend(_validation_messages(exc, where))
    for name, high in (("slice_count", 200), ("frame_count", 600)):
        value = data[name]
        if value is not None and not 1 <= value <= high:
            problems.append(f"{where}.{name}: {value} is outside 1-{high}.")
    if data["modality"] == "ct" and not data["slice_count"]:
        problems.append(f"{label}: a CT study needs a slice_count.")
    if data["modality"] == "lap" and not data["frame_count"]:
        problems.append(f"{label}: a laparoscopy study needs a frame_count.")
    return StudyInput(**{**{name: data[name] for name in STUDY_FIELDS}, "findings": findings})


def parse_bundle(data: bytes) -> ParsedBundle:
    """Read and validate a bundle; raises BundleError listing every problem found."""
    archive, members = _open_zip(data)
    budget = _Budget()
    problems: list[str] = []
    if CASE_JSON not in members:
        raise BundleError([f"The bundle has no {CASE_JSON}."])
    for name in members:
        if name != CASE_JSON and not _MASK_NAME.match(name):
            problems.append(f"Member {name!r} is not part of the format "
                            f"({CASE_JSON} and masks/<name>.png only).")
    try:
        raw = _read(archive, members[CASE_JSON], budget, MAX_CASE_JSON_BYTES)
    except BundleError as exc:
        raise BundleError(problems + exc.problems) from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BundleError(problems + [f"{CASE_JSON} is not valid JSON ({exc})."]) from None
    if not isinstance(document, dict):
        raise BundleError(problems + [f"{CASE_JSON} must be a JSON object."])
    if document.get("format") != FORMAT:
        got = f"{document['format']!r}" if "format" in document else "missing"
        problems.append(f"{CASE_JSON}: format is {got}; expected {FORMAT!r}.")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        got = f"{version!r}" if "schema_version" in document else "missing"
        problems.append(f"{CASE_JSON}: schema_version {got} is not supported; this server reads "
                        f"schema_version {SCHEMA_VERSION}.")
    if problems:  # not our format or version: its fields would be read against the wrong schema
        raise BundleError(problems)
    top = {"format": _STR, "schema_version": _INT, "exported_at": _STR, "kg_version": _STR, "case": "object",
           "studies": "list"}
    if not _check_object(document, top, CASE_JSON, problems, required=tuple(top)):
        raise BundleError(problems)

    # every mask path case.json names, however broken the rest of its finding, so that a bad finding
    # is not also reported as an unreferenced mask
    referenced = {item["mask"] for study in document["studies"] if isinstance(study, dict)
                  and isinstance(study.get("findings"), list) for item in study["findings"]
                  if isinstance(item, dict) and isinstance(item.get("mask"), str)}

    def read_mask(path: str, where: str) -> str | None:
        if not _MASK_NAME.match(path):
            problems.append(f"{where}: {path!r} is not a masks/<name>.png path.")
            return None
        if path not in members:
            problems.append(f"{where}: {path} is referenced but missing from the bundle.")
            return None
        try:
            png = _read(archive, members[path], budget, MAX_MASK_BYTES)
        except BundleError as exc:
            problems.extend(exc.problems)
            return None
        encoded, mask_problems = _read_mask(png, path)
        problems.extend(f"{where}: {p}" for p in mask_problems)
        return encoded

    content = _check_case(document["case"], problems)
    studies = [_check_study(item, i, read_mask, problems) for i, item in enumerate(document["studies"])]
    if not document["studies"]:
        problems.append(f"{CASE_JSON}: studies: a case needs at least one imaging study.")
    for name in sorted(set(members) - referenced - {CASE_JSON}):
        if _MASK_NAME.match(name):
            problems.append(f"Member {name!r} is not referenced by {CASE_JSON}.")
    if problems:
        raise BundleError(problems)
    return ParsedBundle(content=content, studies=studies, kg_version=document["kg_version"])


@transaction.atomic
def import_bundle(*, author, data: bytes) -> CaseVersion:
    """A new draft case (version 1) owned by `author`, in their organisation; all or nothing."""
    parsed = parse_bundle(data)
    try:
        return case_create(author=author, content=parsed.content, studies=parsed.studies)
    except ValidationError as exc:  # a check parse_bundle does not repeat; still nothing is written
        raise BundleError(_validation_messages(exc, CASE_JSON)) from None


__all__ = ["BundleError", "ParsedBundle", "build_bundle", "bundle_filename", "bundle_version",
           "import_bundle", "parse_bundle"]
