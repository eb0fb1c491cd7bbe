"""The medical knowledge graph: data model, loader, validator and lookups.

One graph drives both the images (through the phantom simulator's closed finding vocabulary in
`inference.vocabulary`) and the dialogue (symptoms, signs, vitals, differentials) of a virtual
patient case. The data lives in ``data/medical-kg-v1.json``::

    {"schema_version": 1, "kg_version": "1.0.0", "meta": {...}, "nodes": [...], "edges": [...]}

Node types (id prefix in brackets): disease [disease:], imaging_finding [finding:], symptom [symptom:],
sign [sign:], vital_pattern [vital:], anatomy [anatomy:], test [test:]. Every node has ``id``, ``type``,
``label``, ``synonyms`` and ``abbreviations``; type-specific fields are listed in ``NODE_FIELDS``.

Edge types and their endpoints are in ``EDGE_TYPES``; the attributes each edge type may carry are in
``EDGE_ATTRS``. ``differential_of`` is symmetric in meaning and stored once per pair;
``complication_of`` points from the complication to the underlying disease; ``investigated_by``
(disease -> test) extends the issue's edge list with the test's role and expected result.

No Django imports: a worker or a management command can load this alone.

Print the counts and the validation result with ``python -m cases.kg``.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from inference.vocabulary import FINDINGS, LATERALITIES, MODALITIES, SEVERITIES, VIEWS

SCHEMA_VERSION = 1
DATA_FILE = Path(__file__).resolve().parent / "data" / "medical-kg-v1.json"

# node type -> id prefix
NODE_TYPES: dict[str, str] = {
    "disease": "disease",
    "imaging_finding": "finding",
    "symptom": "symptom",
    "sign": "sign",
    "vital_pattern": "vital",
    "anatomy": "anatomy",
    "test": "test",
}
# search ranks diseases first, then findings, ...
_TYPE_RANK = {t: i for i, t in enumerate(NODE_TYPES)}

# edge type -> (allowed source types, allowed target types)
EDGE_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "has_finding": (("disease",), ("imaging_finding",)),
    "presents_with": (("disease",), ("symptom", "sign", "vital_pattern")),
    "located_in": (("disease", "imaging_finding"), ("anatomy",)),
    "visible_in": (("imaging_finding",), ("test",)),
    "differential_of": (("disease",), ("disease",)),
    "complication_of": (("disease",), ("disease",)),
    "investigated_by": (("disease",), ("test",)),
}
EDGE_ATTRS: dict[str, frozenset[str]] = {
    "has_finding": frozenset({"frequency", "laterality", "location", "severity", "size_mm", "note"}),
    "presents_with": frozenset({"frequency", "note"}),
    "located_in": frozenset({"note"}),
    "visible_in": frozenset({"note"}),
    "differential_of": frozenset({"note"}),
    "complication_of": frozenset({"note"}),
    "investigated_by": frozenset({"role", "expected", "note"}),
}
_REQUIRED_EDGE_ATTRS = {
    "has_finding": ("frequency",),
    "presents_with": ("frequency",),
    "investigated_by": ("role",),
}

_COMMON_FIELDS = frozenset({"id", "type", "label", "synonyms", "abbreviations", "definition"})
NODE_FIELDS: dict[str, frozenset[str]] = {
    "disease": frozenset({"icd10", "icd10_cm", "region", "sources"}),
    "imaging_finding": frozenset({"appearance", "phantom_key", "normal"}),
    "symptom": frozenset(),
    "sign": frozenset(),
    "vital_pattern": frozenset({"parameter", "unit", "min", "max"}),
    "anatomy": frozenset({"kind", "region", "side", "parent"}),
    "test": frozenset({"kind", "modality", "view", "region"}),
}

REGIONS = ("chest", "abdomen")
# Imaging modalities of tests and finding appearances: the simulator's (cxr, ct, lap) plus others that
# only the dialogue uses (abdominal radiograph, ultrasound, MRI).
IMAGING_MODALITIES = ("cxr", "axr", "ct", "us", "mri", "lap")
TEST_KINDS = ("imaging", "lab", "physiology", "procedure")
TEST_ROLES = ("first_line", "diagnostic", "supportive", "rule_out", "severity", "therapeutic")
ANATOMY_KINDS = ("region", "organ", "lobe", "segment", "zone", "structure", "quadrant")
ANATOMY_SIDES = ("none", "left", "right")
VITAL_PARAMETERS = ("heart_rate", "respiratory_rate", "spo2", "temperature", "systolic_bp", "diastolic_bp")

# WHO ICD-10: letter, two digits, optional one or two characters after the dot (J18.9, J90, S22.3).
ICD10_RE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9]{1,2})?$")
# ICD-10-CM: third character may be a letter, up to four characters after the dot (S22.39XA, J93.11).
ICD10_CM_RE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
ID_RE = re.compile(r"^([a-z_]+):([a-z0-9]+(?:_[a-z0-9]+)*)$")
SEMVER_RE = re.compile(r"^\d+\.\d+\.\d+$")

# phantom_findings() keeps only findings at least this typical unless asked otherwise
PHANTOM_MIN_FREQUENCY = 0.3
MAX_SIZE_MM = 150


class KnowledgeGraphError(ValueError):
    """The data failed validation; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        shown = "; ".join(self.problems[:10])
        more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
        super().__init__(f"{len(self.problems)} knowledge graph problem(s): {shown}{more}")


# --------------------------------------------------------------------------- text normalisation
def normalize(text: str) -> str:
    """Lower-case, strip accents, turn punctuation into single spaces.

    'Pneumo-Thorax, Ä' -> 'pneumo thorax a'."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in stripped).split())


def _compact(text: str) -> str:
    return normalize(text).replace(" ", "")


# --------------------------------------------------------------------------- immutable helpers
def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    """Back to plain JSON types (dict, list)."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


# --------------------------------------------------------------------------- data model
@dataclass(frozen=True)
class Node:
    id: str
    type: str
    label: str
    synonyms: tuple[str, ...] = ()
    abbreviations: tuple[str, ...] = ()
    definition: str = ""
    attrs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Node":
        extra = {k: v for k, v in data.items() if k not in _COMMON_FIELDS}
        return cls(
            id=data["id"],
            type=data["type"],
            label=data["label"],
            synonyms=tuple(data.get("synonyms", ())),
            abbreviations=tuple(data.get("abbreviations", ())),
            definition=data.get("definition", ""),
            attrs=_freeze(extra),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "label": self.label,
            "synonyms": list(self.synonyms),
            "abbreviations": list(self.abbreviations),
        }
        if self.definition:
            out["definition"] = self.definition
        out.update(_thaw(self.attrs))
        return out

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    @property
    def terms(self) -> tuple[str, ...]:
        """Every string this node can be found by: label, synonyms, abbreviations, ICD-10 codes."""
        codes = tuple(c for c in (self.get("icd10"), self.get("icd10_cm")) if c)
        return (self.label, *self.synonyms, *self.abbreviations, *codes)

    # type-specific conveniences (None where the field does not apply)
    @property
    def icd10(self) -> str | None:
        return self.get("icd10")

    @property
    def icd10_cm(self) -> str | None:
        return self.get("icd10_cm")

    @property
    def region(self) -> str | None:
        return self.get("region")

    @property
    def sources(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(self.get("sources", ()))

    @property
    def phantom_key(self) -> str | None:
        return self.get("phantom_key")

    @property
    def appearance(self) -> Mapping[str, str]:
        return self.get("appearance", MappingProxyType({}))

    @property
    def modality(self) -> str | None:
        return self.get("modality")


@dataclass(frozen=True)
class Edge:
    type: str
    source: str
    target: str
    attrs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Edge":
        extra = {k: v for k, v in data.items() if k not in ("type", "source", "target")}
        return cls(type=data["type"], source=data["source"], target=data["target"], attrs=_freeze(extra))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "source": self.source, "target": self.target, **_thaw(self.attrs)}

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    @property
    def frequency(self) -> float | None:
        return self.get("frequency")

    @property
    def laterality(self) -> str | None:
        return self.get("laterality")

    @property
    def location(self) -> str | None:
        return self.get("location")

    @property
    def severity(self) -> str | None:
        return self.get("severity")

    @property
    def size_mm(self) -> float | None:
        return self.get("size_mm")

    @property
    def note(self) -> str | None:
        return self.get("note")


def _by_frequency(pair: tuple[Edge, Node]) -> tuple:
    edge, node = pair
    return (-(edge.frequency or 0.0), node.label.casefold())


def _phantom_lateralities(kind, laterality: str | None) -> tuple[str, ...]:
    """Lateralities to render for a phantom finding; 'bilateral' becomes left + right when the
    simulator only draws one side at a time."""
    if laterality is None:
        return ("none",) if "none" in kind.lateralities else ()
    if laterality in kind.lateralities:
        return (laterality,)
    if laterality == "bilateral" and {"left", "right"} <= set(kind.lateralities):
        return ("left", "right")
    return ()


@dataclass(frozen=True)
class KnowledgeGraph:
    schema_version: int
    kg_version: str
    nodes: Mapping[str, Node]
    edges: tuple[Edge, ...]
    meta: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), compare=False, repr=False)
    _out: Mapping[str, tuple[Edge, ...]] = field(init=False, repr=False, compare=False)
    _in: Mapping[str, tuple[Edge, ...]] = field(init=False, repr=False, compare=False)
    _index: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        out: dict[str, list[Edge]] = {}
        into: dict[str, list[Edge]] = {}
        for edge in self.edges:
            out.setdefault(edge.source, []).append(edge)
            into.setdefault(edge.target, []).append(edge)
        object.__setattr__(self, "_out", MappingProxyType({k: tuple(v) for k, v in out.items()}))
        object.__setattr__(self, "_in", MappingProxyType({k: tuple(v) for k, v in into.items()}))
        index = []
        for node in self.nodes.values():
            forms = []
            for term in node.terms:
                norm = normalize(term)
                if norm:
                    forms.append((norm, norm.replace(" ", "")))
            index.append((node, tuple(forms)))
        object.__setattr__(self, "_index", tuple(index))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, strict: bool = True) -> "KnowledgeGraph":
        if strict:
            problems = validate(data)
            if problems:
                raise KnowledgeGraphError(problems)
        nodes = {n["id"]: Node.from_json(n) for n in data["nodes"]}
        edges = tuple(Edge.from_json(e) for e in data["edges"])
        return cls(
            schema_version=data["schema_version"],
            kg_version=data["kg_version"],
            nodes=MappingProxyType(nodes),
            edges=edges,
            meta=_freeze(data.get("meta", {})),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kg_version": self.kg_version,
            "meta": _thaw(self.meta),
            "nodes": [n.to_json() for n in self.nodes.values()],
            "edges": [e.to_json() for e in self.edges],
        }

    # ------------------------------------------------------------------ basic lookups
    def node(self, node_id: str) -> Node:
        """The node with this id; KeyError when unknown."""
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f"unknown knowledge graph node {node_id!r}") from None

    def get(self, node_id: str, default: Node | None = None) -> Node | None:
        return self.nodes.get(node_id, default)

    def nodes_of_type(self, node_type: str) -> list[Node]:
        if node_type not in NODE_TYPES:
            raise ValueError(f"unknown node type {node_type!r}")
        found = (n for n in self.nodes.values() if n.type == node_type)
        return sorted(found, key=lambda n: n.label.casefold())

    @property
    def diseases(self) -> list[Node]:
        return self.nodes_of_type("disease")

    def edges_from(self, node_id: str, edge_type: str | None = None) -> tuple[Edge, ...]:
        return tuple(e for e in self._out.get(node_id, ()) if edge_type is None or e.type == edge_type)

    def edges_to(self, node_id: str, edge_type: str | None = None) -> tuple[Edge, ...]:
        return tuple(e for e in self._in.get(node_id, ()) if edge_type is None or e.type == edge_type)

    def _disease(self, disease_id: str) -> Node:
        node = self.node(disease_id)
        if node.type != "disease":
            raise ValueError(f"{disease_id!r} is a {node.type}, not a disease")
        return node

    def _finding(self, finding_id: str) -> Node:
        node = self.node(finding_id)
        if node.type != "imaging_finding":
            raise ValueError(f"{finding_id!r} is a {node.type}, not an imaging finding")
        return node

    # ------------------------------------------------------------------ search
    def search(
        self, text: str, *, types: Iterable[str] | None = None, limit: int | None = None
    ) -> list[Node]:
        """Nodes whose label, synonym, abbreviation or ICD-10 code matches `text`, ignoring case,
        accents and punctuation. Exact matches come first, then word-prefix matches, then substring
        matches (queries of 3+ characters); within a tier diseases rank first."""
        query = normalize(text)
        compact = query.replace(" ", "")
        if not compact:
            return []
        wanted = set(types) if types is not None else None
        scored = []
        for node, forms in self._index:
            if wanted is not None and node.type not in wanted:
                continue
            tier = None
            for norm, comp in forms:
                if comp == compact:
                    tier = 0
                    break
                if norm.startswith(query) or f" {query}" in f" {norm}" or comp.startswith(compact):
                    tier = 1 if tier is None else min(tier, 1)
                elif len(compact) >= 3 and compact in comp and tier is None:
                    tier = 2
            if tier is not None:
                scored.append((tier, _TYPE_RANK[node.type], node.label.casefold(), node))
        scored.sort(key=lambda s: s[:3])
        result = [s[3] for s in scored]
        return result[:limit] if limit is not None else result

    # ------------------------------------------------------------------ disease views
    def findings_of(self, disease_id: str) -> list[tuple[Edge, Node]]:
        """(has_finding edge, imaging finding) pairs, most frequent first."""
        self._disease(disease_id)
        pairs = [(e, self.nodes[e.target]) for e in self.edges_from(disease_id, "has_finding")]
        return sorted(pairs, key=_by_frequency)

    def presentations_of(self, disease_id: str) -> list[tuple[Edge, Node]]:
        """(presents_with edge, symptom/sign/vital pattern) pairs, most frequent first."""
        self._disease(disease_id)
        pairs = [(e, self.nodes[e.target]) for e in self.edges_from(disease_id, "presents_with")]
        return sorted(pairs, key=_by_frequency)

    def differentials_of(self, disease_id: str) -> list[tuple[Edge, Node]]:
        """(differential_of edge, other disease) pairs, whichever direction the edge is stored in."""
        self._disease(disease_id)
        pairs = {}
        for e in self.edges_from(disease_id, "differential_of"):
            pairs.setdefault(e.target, (e, self.nodes[e.target]))
        for e in self.edges_to(disease_id, "differential_of"):
            pairs.setdefault(e.source, (e, self.nodes[e.source]))
        return sorted(pairs.values(), key=lambda p: p[1].label.casefold())

    def complications_of(self, disease_id: str) -> list[tuple[Edge, Node]]:
        """Diseases that can complicate `disease_id` (incoming complication_of edges)."""
        self._disease(disease_id)
        pairs = [(e, self.nodes[e.source]) for e in self.edges_to(disease_id, "complication_of")]
        return sorted(pairs, key=lambda p: p[1].label.casefold())

    def complication_sources_of(self, disease_id: str) -> list[tuple[Edge, Node]]:
        """Diseases that `disease_id` is a complication of (outgoing complication_of edges)."""
        self._disease(disease_id)
        pairs = [(e, self.nodes[e.target]) for e in self.edges_from(disease_id, "complication_of")]
        return sorted(pairs, key=lambda p: p[1].label.casefold())

    def tests_for(self, disease_id: str) -> list[tuple[Edge, Node]]:
        """(investigated_by edge, test) pairs in role order (first-line first)."""
        self._disease(disease_id)
        pairs = [(e, self.nodes[e.target]) for e in self.edges_from(disease_id, "investigated_by")]
        order = {r: i for i, r in enumerate(TEST_ROLES)}
        return sorted(pairs, key=lambda p: (order.get(p[0].get("role"), 99), p[1].label.casefold()))

    def diseases_with_finding(self, node_id: str) -> list[tuple[Edge, Node]]:
        """Reverse lookup: diseases that have this imaging finding or present with this
        symptom/sign/vital pattern, most frequent first."""
        node = self.node(node_id)
        edge_type = "has_finding" if node.type == "imaging_finding" else "presents_with"
        pairs = [(e, self.nodes[e.source]) for e in self.edges_to(node_id, edge_type)]
        return sorted(pairs, key=_by_frequency)

    def tests_showing(self, finding_id: str) -> list[Node]:
        """Imaging tests in which the finding is visible."""
        self._finding(finding_id)
        tests = [self.nodes[e.target] for e in self.edges_from(finding_id, "visible_in")]
        return sorted(tests, key=lambda n: n.label.casefold())

    def modalities_of(self, finding_id: str) -> list[str]:
        """Imaging modalities (cxr, axr, ct, us, mri, lap) in which the finding is visible."""
        found = {t.modality for t in self.tests_showing(finding_id) if t.modality}
        return [m for m in IMAGING_MODALITIES if m in found]

    def _resolve_location(self, location: str | None) -> Node | None:
        if not location:
            return None
        hits = self.search(location, types=("anatomy",))
        if hits and any(_compact(t) == _compact(location) for t in hits[0].terms):
            return hits[0]
        return None

    def phantom_findings(
        self, disease_id: str, modality: str, *, min_frequency: float = PHANTOM_MIN_FREQUENCY
    ) -> list[dict[str, Any]]:
        """The disease's findings the phantom simulator can render in `modality` (cxr, ct, lap), as
        dicts with exactly the fields of `inference.conditions.Finding` (key, laterality, location,
        size_mm, severity), most frequent first. Only findings with frequency >= `min_frequency`
        (pass 0 for every renderable finding). A 'bilateral' finding that the simulator draws one side
        at a time becomes a left and a right entry; a (key, laterality) pair appears once."""
        if modality not in MODALITIES:
            expected = ", ".join(MODALITIES)
            raise ValueError(f"unknown simulator modality {modality!r} (expected one of {expected})")
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for edge, finding in self.findings_of(disease_id):
            key = finding.phantom_key
            if not key or (edge.frequency or 0.0) < min_frequency:
                continue
            kind = FINDINGS[key]
            if modality not in kind.modalities or modality not in self.modalities_of(finding.id):
                continue
            anatomy = self._resolve_location(edge.location)
            for laterality in _phantom_lateralities(kind, edge.laterality):
                location = edge.location or ""
                side = anatomy.get("side") if anatomy else None
                if side in ("left", "right") and laterality in ("left", "right") and side != laterality:
                    location = ""
                item = {
                    "key": key,
                    "laterality": laterality,
                    "location": location,
                    "size_mm": float(edge.size_mm) if (kind.has_size and edge.size_mm is not None) else None,
                    "severity": edge.severity or "moderate",
                }
                out.setdefault((key, laterality), item)
        return list(out.values())

    def suggest_case(
        self,
        disease_id: str,
        *,
        min_frequency: float = 0.0,
        phantom_min_frequency: float = PHANTOM_MIN_FREQUENCY,
    ) -> dict[str, Any]:
        """Everything a case editor's 'suggest from diagnosis' needs, as plain JSON-safe data:
        typical findings with their attributes, symptoms, signs, vitals (with numeric ranges),
        differentials, complications, tests, and per simulator modality the renderable findings."""
        disease = self._disease(disease_id)

        def keep(edge: Edge) -> bool:
            return (edge.frequency or 0.0) >= min_frequency

        findings = []
        for edge, node in self.findings_of(disease_id):
            if not keep(edge):
                continue
            findings.append({
                "id": node.id,
                "label": node.label,
                "frequency": edge.frequency,
                "laterality": edge.laterality,
                "location": edge.location,
                "severity": edge.severity,
                "size_mm": edge.size_mm,
                "note": edge.note,
                "phantom_key": node.phantom_key,
                "normal": bool(node.get("normal", False)),
                "modalities": self.modalities_of(node.id),
                "appearance": _thaw(node.appearance),
            })
        groups: dict[str, list[dict[str, Any]]] = {"symptom": [], "sign": [], "vital_pattern": []}
        for edge, node in self.presentations_of(disease_id):
            if not keep(edge):
                continue
            item = {"id": node.id, "label": node.label, "frequency": edge.frequency, "note": edge.note}
            if node.type == "vital_pattern":
                item.update({k: node.get(k) for k in ("parameter", "unit", "min", "max")})
            groups[node.type].append(item)

        def brief(pairs):
            return [{"id": n.id, "label": n.label, "note": e.note} for e, n in pairs]

        return {
            "kg_version": self.kg_version,
            "disease": {
                "id": disease.id,
                "label": disease.label,
                "icd10": disease.icd10,
                "icd10_cm": disease.icd10_cm,
                "region": disease.region,
                "definition": disease.definition,
                "synonyms": list(disease.synonyms),
                "abbreviations": list(disease.abbreviations),
                "sources": _thaw(disease.sources),
            },
            "findings": findings,
            "symptoms": groups["symptom"],
            "signs": groups["sign"],
            "vitals": groups["vital_pattern"],
            "differentials": brief(self.differentials_of(disease_id)),
            "complications": brief(self.complications_of(disease_id)),
            "complication_of": brief(self.complication_sources_of(disease_id)),
            "tests": [
                {
                    "id": n.id,
                    "label": n.label,
                    "kind": n.get("kind"),
                    "modality": n.modality,
                    "role": e.get("role"),
                    "expected": e.get("expected"),
                }
                for e, n in self.tests_for(disease_id)
            ],
            "phantom": {
                m: self.phantom_findings(disease_id, m, min_frequency=phantom_min_frequency)
                for m in MODALITIES
            },
        }

    # ------------------------------------------------------------------ statistics
    def counts(self) -> dict[str, dict[str, int]]:
        return {
            "nodes": dict(sorted(Counter(n.type for n in self.nodes.values()).items())),
            "edges": dict(sorted(Counter(e.type for e in self.edges).items())),
        }


# --------------------------------------------------------------------------- loading
def load(path: str | Path | None = None, *, strict: bool = True) -> KnowledgeGraph:
    """Load a knowledge graph file (default: the shipped data). With `strict` (the default) invalid
    data raises KnowledgeGraphError listing every problem."""
    file = Path(path) if path is not None else DATA_FILE
    with open(file, encoding="utf-8") as fh:
        data = json.load(fh)
    return KnowledgeGraph.from_data(data, strict=strict)


@lru_cache(maxsize=1)
def default_graph() -> KnowledgeGraph:
    """The shipped graph, loaded and validated once per process."""
    return load()


# --------------------------------------------------------------------------- validation
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _check_string_list(where: str, key: str, value: Any, problems: list[str]) -> None:
    if not isinstance(value, list):
        problems.append(f"{where}: {key} must be a list of strings")
        return
    for item in value:
        if not _nonempty_str(item):
            problems.append(f"{where}: {key} contains {item!r}, not a non-empty string")


def _check_node(node: Mapping[str, Any], where: str, problems: list[str]) -> None:
    node_id, node_type = node.get("id"), node.get("type")
    if node_type not in NODE_TYPES:
        problems.append(f"{where}: unknown node type {node_type!r}")
        return
    match = ID_RE.match(node_id) if isinstance(node_id, str) else None
    if not match:
        problems.append(f"{where}: id {node_id!r} is not of the form 'prefix:slug' (lower-case slug)")
    elif match.group(1) != NODE_TYPES[node_type]:
        problems.append(f"{where}: id prefix {match.group(1)!r} does not match type {node_type!r} "
                        f"(expected {NODE_TYPES[node_type]!r})")
    if not _nonempty_str(node.get("label")):
        problems.append(f"{where}: missing label")
    for key in ("synonyms", "abbreviations"):
        if key not in node:
            problems.append(f"{where}: missing {key} list")
        else:
            _check_string_list(where, key, node[key], problems)
    if "definition" in node and not isinstance(node["definition"], str):
        problems.append(f"{where}: definition must be a string")
    unknown = set(node) - _COMMON_FIELDS - NODE_FIELDS[node_type]
    if unknown:
        problems.append(f"{where}: unknown field(s) for a {node_type}: {', '.join(sorted(unknown))}")

    if node_type == "disease":
        icd = node.get("icd10")
        if not isinstance(icd, str) or not ICD10_RE.match(icd):
            problems.append(f"{where}: bad ICD-10 code {icd!r} (expected e.g. 'J93.1' or 'J90')")
        if "icd10_cm" in node:
            cm = node["icd10_cm"]
            if not isinstance(cm, str) or not ICD10_CM_RE.match(cm):
                problems.append(f"{where}: bad ICD-10-CM code {cm!r} (expected e.g. 'J93.11' or 'S22.39XA')")
        if node.get("region") not in REGIONS:
            problems.append(f"{where}: region {node.get('region')!r} is not one of {', '.join(REGIONS)}")
        if not _nonempty_str(node.get("definition")):
            problems.append(f"{where}: a disease needs a one-line definition")
        sources = node.get("sources")
        if not isinstance(sources, list) or not sources:
            problems.append(f"{where}: a disease needs at least one source")
        else:
            for i, src in enumerate(sources):
                if not isinstance(src, Mapping):
                    problems.append(f"{where}: source {i} is not an object")
                    continue
                if not _nonempty_str(src.get("title")) or not _nonempty_str(src.get("publisher")):
                    problems.append(f"{where}: source {i} needs a title and a publisher")
                if "url" in src and not (isinstance(src["url"], str) and src["url"].startswith("https://")):
                    problems.append(f"{where}: source {i} url {src['url']!r} must be an https:// URL")
                if "year" in src and not (isinstance(src["year"], int) and 1900 <= src["year"] <= 2100):
                    problems.append(f"{where}: source {i} year {src['year']!r} is not a plausible year")
                unknown_src = set(src) - {"title", "publisher", "year", "url"}
                if unknown_src:
                    fields = ", ".join(sorted(unknown_src))
                    problems.append(f"{where}: source {i} has unknown field(s) {fields}")

    elif node_type == "imaging_finding":
        appearance = node.get("appearance")
        if not isinstance(appearance, Mapping) or not appearance:
            problems.append(f"{where}: an imaging finding needs an appearance text per modality")
        else:
            for modality, text in appearance.items():
                if modality not in IMAGING_MODALITIES:
                    problems.append(f"{where}: appearance for unknown modality {modality!r}")
                if not _nonempty_str(text):
                    problems.append(f"{where}: empty appearance text for {modality!r}")
        key = node.get("phantom_key")
        if key is not None and key not in FINDINGS:
            problems.append(f"{where}: phantom_key {key!r} is not in the simulator vocabulary "
                            "(inference.vocabulary.FINDINGS)")
        if "normal" in node and not isinstance(node["normal"], bool):
            problems.append(f"{where}: normal must be true or false")
        if node.get("normal") and key is not None:
            problems.append(f"{where}: a normal finding cannot have a phantom_key")

    elif node_type == "vital_pattern":
        if node.get("parameter") not in VITAL_PARAMETERS:
            problems.append(f"{where}: parameter {node.get('parameter')!r} is not one of "
                            f"{', '.join(VITAL_PARAMETERS)}")
        if not _nonempty_str(node.get("unit")):
            problems.append(f"{where}: missing unit")
        lo, hi = node.get("min"), node.get("max")
        if not (_is_number(lo) and _is_number(hi)) or lo >= hi:
            problems.append(f"{where}: min/max must be numbers with min < max (got {lo!r}, {hi!r})")

    elif node_type == "anatomy":
        if node.get("kind") not in ANATOMY_KINDS:
            problems.append(f"{where}: anatomy kind {node.get('kind')!r} is not one of "
                            f"{', '.join(ANATOMY_KINDS)}")
        if node.get("region") not in REGIONS:
            problems.append(f"{where}: region {node.get('region')!r} is not one of {', '.join(REGIONS)}")
        if node.get("side") not in ANATOMY_SIDES:
            problems.append(f"{where}: side {node.get('side')!r} is not one of {', '.join(ANATOMY_SIDES)}")

    elif node_type == "test":
        kind, modality = node.get("kind"), node.get("modality")
        if kind not in TEST_KINDS:
            problems.append(f"{where}: test kind {kind!r} is not one of {', '.join(TEST_KINDS)}")
        if kind == "imaging":
            if modality not in IMAGING_MODALITIES:
                problems.append(f"{where}: imaging test modality {modality!r} is not one of "
                                f"{', '.join(IMAGING_MODALITIES)}")
        elif modality is not None:
            problems.append(f"{where}: only imaging tests have a modality")
        if "region" in node and node["region"] not in REGIONS:
            problems.append(f"{where}: region {node['region']!r} is not one of {', '.join(REGIONS)}")
        view = node.get("view")
        if view is not None and (modality not in VIEWS or view not in VIEWS[modality]):
            problems.append(f"{where}: view {view!r} does not exist for modality {modality!r}")


def validate(data: Any) -> list[str]:
    """Every problem in a knowledge graph document (empty list: valid)."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        return ["the knowledge graph must be a JSON object"]
    unknown_top = set(data) - {"schema_version", "kg_version", "meta", "nodes", "edges"}
    if unknown_top:
        problems.append(f"unknown top-level field(s): {', '.join(sorted(unknown_top))}")
    if data.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"schema_version is {data.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    if not (isinstance(data.get("kg_version"), str) and SEMVER_RE.match(data["kg_version"])):
        problems.append(f"kg_version {data.get('kg_version')!r} is not a semantic version like '1.0.0'")
    raw_nodes, raw_edges = data.get("nodes"), data.get("edges")
    if not isinstance(raw_nodes, list):
        problems.append("nodes must be a list")
        raw_nodes = []
    if not isinstance(raw_edges, list):
        problems.append("edges must be a list")
        raw_edges = []

    # ---- nodes
    nodes: dict[str, Mapping[str, Any]] = {}
    for i, node in enumerate(raw_nodes):
        if not isinstance(node, Mapping):
            problems.append(f"node #{i}: not an object")
            continue
        node_id = node.get("id")
        where = f"node {node_id!r}" if isinstance(node_id, str) else f"node #{i}"
        _check_node(node, where, problems)
        if isinstance(node_id, str):
            if node_id in nodes:
                problems.append(f"duplicate node id {node_id!r}")
            else:
                nodes[node_id] = node

    def ntype(node_id: Any) -> str | None:
        node = nodes.get(node_id) if isinstance(node_id, str) else None
        return node.get("type") if node is not None else None

    # anatomy parents, and the terms a has_finding location may use
    anatomy_terms: dict[str, Mapping[str, Any]] = {}
    for node_id, node in nodes.items():
        if node.get("type") != "anatomy":
            continue
        parent = node.get("parent")
        if parent is not None and (ntype(parent) != "anatomy" or parent == node_id):
            problems.append(f"node {node_id!r}: parent {parent!r} is not another anatomy node")
        terms = [node.get("label", "")]
        terms += list(node.get("synonyms") or []) + list(node.get("abbreviations") or [])
        for term in terms:
            if isinstance(term, str) and _compact(term):
                anatomy_terms.setdefault(_compact(term), node)

    # ---- edges
    seen: set[tuple[str, str, str]] = set()
    out_types: dict[str, Counter] = {}
    visible: dict[str, set[str]] = {}  # finding -> modalities
    chest_imaging: set[str] = set()  # findings visible on a chest radiograph or a CT of the chest
    for i, edge in enumerate(raw_edges):
        if not isinstance(edge, Mapping):
            problems.append(f"edge #{i}: not an object")
            continue
        etype, src, dst = edge.get("type"), edge.get("source"), edge.get("target")
        where = f"edge #{i} {etype} {src} -> {dst}"
        if etype not in EDGE_TYPES:
            problems.append(f"{where}: unknown edge type {etype!r}")
            continue
        ok = True
        for end, node_id in (("source", src), ("target", dst)):
            if ntype(node_id) is None:
                problems.append(f"{where}: unknown {end} node {node_id!r}")
                ok = False
        unknown_attrs = set(edge) - {"type", "source", "target"} - EDGE_ATTRS[etype]
        if unknown_attrs:
            problems.append(f"{where}: unknown attribute(s) for {etype}: {', '.join(sorted(unknown_attrs))}")
        for attr in _REQUIRED_EDGE_ATTRS.get(etype, ()):
            if attr not in edge:
                problems.append(f"{where}: missing {attr}")
        if "frequency" in edge:
            freq = edge["frequency"]
            if not _is_number(freq) or not 0.0 <= freq <= 1.0:
                problems.append(f"{where}: frequency {freq!r} is outside 0..1")
        if "note" in edge and not _nonempty_str(edge["note"]):
            problems.append(f"{where}: note must be a non-empty string")
        if not ok:
            continue
        allowed_src, allowed_dst = EDGE_TYPES[etype]
        if ntype(src) not in allowed_src or ntype(dst) not in allowed_dst:
            problems.append(f"{where}: {etype} is not allowed from a {ntype(src)} to a {ntype(dst)} "
                            f"(allowed: {'/'.join(allowed_src)} -> {'/'.join(allowed_dst)})")
            continue
        if src == dst:
            problems.append(f"{where}: an edge cannot point to its own source")
            continue
        key = (etype, src, dst)
        if key in seen or (etype == "differential_of" and ("differential_of", dst, src) in seen):
            problems.append(f"{where}: duplicate edge")
        seen.add(key)
        out_types.setdefault(src, Counter())[etype] += 1

        if etype == "has_finding":
            _check_has_finding(edge, nodes[dst], where, anatomy_terms, problems)
        elif etype == "visible_in":
            test = nodes[dst]
            modality = test.get("modality")
            if test.get("kind") not in ("imaging",) or modality is None:
                problems.append(f"{where}: visible_in must point to an imaging test")
            else:
                visible.setdefault(src, set()).add(modality)
                if modality in ("cxr", "ct") and test.get("region") == "chest":
                    chest_imaging.add(src)
                appearance = nodes[src].get("appearance")
                if isinstance(appearance, Mapping) and modality not in appearance:
                    problems.append(f"{where}: finding has no appearance text for modality {modality!r}")
        elif etype == "investigated_by":
            role = edge.get("role")
            if role not in TEST_ROLES:
                problems.append(f"{where}: role {role!r} is not one of {', '.join(TEST_ROLES)}")
            if "expected" in edge and not _nonempty_str(edge["expected"]):
                problems.append(f"{where}: expected must be a non-empty string")

    # ---- whole-graph rules
    for node_id, node in nodes.items():
        counts = out_types.get(node_id, Counter())
        node_type = node.get("type")
        if node_type == "disease":
            if not counts["presents_with"]:
                problems.append(f"disease {node_id!r} has no presents_with edge")
            if not counts["has_finding"]:
                problems.append(f"disease {node_id!r} has no has_finding edge")
            elif node.get("region") == "chest":
                shown = any(
                    isinstance(e, Mapping) and e.get("type") == "has_finding" and e.get("source") == node_id
                    and e.get("target") in chest_imaging
                    for e in raw_edges
                )
                if not shown:
                    problems.append(
                        f"chest disease {node_id!r} has no finding visible on a chest radiograph or CT"
                    )
        elif node_type == "imaging_finding":
            modalities = visible.get(node_id, set())
            if not modalities:
                problems.append(f"finding {node_id!r} has no visible_in edge")
            appearance = node.get("appearance")
            if isinstance(appearance, Mapping):
                for modality in appearance:
                    if modality in IMAGING_MODALITIES and modality not in modalities:
                        problems.append(
                            f"finding {node_id!r} describes {modality!r} "
                            f"but is visible_in no {modality!r} test"
                        )
            key = node.get("phantom_key")
            if key in FINDINGS and modalities and not modalities & set(FINDINGS[key].modalities):
                problems.append(f"finding {node_id!r}: phantom_key {key!r} renders in "
                                f"{', '.join(FINDINGS[key].modalities)} but the finding is visible only in "
                                f"{', '.join(sorted(modalities))}")
    return problems


def _check_has_finding(edge: Mapping[str, Any], finding: Mapping[str, Any], where: str,
                       anatomy_terms: Mapping[str, Mapping[str, Any]], problems: list[str]) -> None:
    laterality, severity = edge.get("laterality"), edge.get("severity")
    location, size = edge.get("location"), edge.get("size_mm")
    if laterality is not None and laterality not in LATERALITIES:
        problems.append(f"{where}: laterality {laterality!r} is not one of {', '.join(LATERALITIES)}")
    if severity is not None and severity not in SEVERITIES:
        problems.append(f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    if size is not None and (not _is_number(size) or not 0 < size <= MAX_SIZE_MM):
        problems.append(f"{where}: size_mm {size!r} is outside 0-{MAX_SIZE_MM} mm")
    anatomy = None
    if location is not None:
        anatomy = anatomy_terms.get(_compact(location)) if isinstance(location, str) else None
        if anatomy is None:
            problems.append(f"{where}: location {location!r} names no anatomy node")
        elif (anatomy.get("side") in ("left", "right") and laterality in ("left", "right")
              and anatomy.get("side") != laterality):
            problems.append(f"{where}: location {location!r} is on the {anatomy.get('side')} "
                            f"but laterality is {laterality!r}")
    key = finding.get("phantom_key")
    kind = FINDINGS.get(key) if key is not None else None
    if kind is None:
        return
    if laterality is None and "none" not in kind.lateralities:
        allowed = ", ".join(kind.lateralities)
        problems.append(f"{where}: phantom finding {key!r} needs a laterality ({allowed})")
    elif laterality in LATERALITIES and not _phantom_lateralities(kind, laterality):
        problems.append(f"{where}: laterality {laterality!r} is impossible for phantom finding {key!r} "
                        f"(allowed: {', '.join(kind.lateralities)})")
    if size is not None and not kind.has_size:
        problems.append(f"{where}: phantom finding {key!r} takes no size")


# --------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """`python -m cases.kg [path]`: validate and print node/edge counts by type."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DATA_FILE
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    problems = validate(data)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    graph = KnowledgeGraph.from_data(data, strict=False) if not problems else None
    if graph is not None:
        counts = graph.counts()
        diseases = graph.diseases
        regions = Counter(d.region for d in diseases)
        print(f"knowledge graph {graph.kg_version} (schema {graph.schema_version}): "
              f"{len(graph.nodes)} nodes, {len(graph.edges)} edges")
        print("nodes by type: " + ", ".join(f"{k}={v}" for k, v in counts["nodes"].items()))
        print("edges by type: " + ", ".join(f"{k}={v}" for k, v in counts["edges"].items()))
        print("diseases by region: " + ", ".join(f"{k}={v}" for k, v in sorted(regions.items())))
        phantom = sorted({n.phantom_key for n in graph.nodes_of_type("imaging_finding") if n.phantom_key})
        print(f"phantom keys used: {len(phantom)}/{len(FINDINGS)}: {', '.join(phantom)}")
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
