"""The shipped medical knowledge graph and its Django-free loader/validator (cases.kg)."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cases.kg import DATA_FILE, KnowledgeGraphError, load, normalize, validate
from cases.kg.schema import ICD10_CM_RE, ICD10_RE, main
from inference.conditions import MAX_FINDINGS, Conditions, Finding
from inference.vocabulary import FINDINGS, MODALITIES, VIEWS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def raw() -> dict:
    with open(DATA_FILE, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def kg():
    return load()


@pytest.fixture
def data(raw) -> dict:
    """A private deep copy to mutate."""
    return copy.deepcopy(raw)


# --------------------------------------------------------------------------- the shipped file
def test_shipped_file_validates_with_zero_problems(raw):
    assert validate(raw) == []


def test_versioned_document(raw, kg):
    assert raw["schema_version"] == 1
    assert re.fullmatch(r"\d+\.\d+\.\d+", raw["kg_version"])
    assert kg.kg_version == raw["kg_version"]
    assert set(raw) <= {"schema_version", "kg_version", "meta", "nodes", "edges"}


def test_load_by_path_equals_default(kg):
    again = load(DATA_FILE)
    assert again.counts() == kg.counts()
    assert set(again.nodes) == set(kg.nodes)


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def test_data_file_holds_no_filesystem_paths(raw):
    for text in _strings(raw):
        assert not text.startswith(("/", "~")) and "\\" not in text and "file:" not in text, text


def test_at_least_40_diseases_in_chest_and_abdomen(kg):
    diseases = kg.diseases
    assert len(diseases) >= 40
    regions = {d.region for d in diseases}
    assert regions == {"chest", "abdomen"}
    assert sum(d.region == "chest" for d in diseases) >= 15
    assert sum(d.region == "abdomen" for d in diseases) >= 12


REQUIRED = """
    community_acquired_pneumonia lobar_pneumonia pleural_effusion parapneumonic_effusion empyema pneumothorax
    tension_pneumothorax congestive_heart_failure cardiogenic_pulmonary_oedema solitary_pulmonary_nodule
    lung_cancer lung_metastases pulmonary_tuberculosis copd emphysema asthma_exacerbation pulmonary_embolism
    atelectasis rib_fracture flail_chest haemothorax perforated_viscus acute_cholecystitis cholelithiasis
    choledocholithiasis acute_appendicitis liver_abscess hepatocellular_carcinoma liver_metastases
    hepatic_haemangioma adhesive_small_bowel_obstruction haemoperitoneum splenic_injury pericardial_effusion
    aortic_dissection sarcoidosis idiopathic_pulmonary_fibrosis bronchiectasis lung_abscess ards
    acute_pancreatitis perforated_peptic_ulcer hiatus_hernia
""".split()


@pytest.mark.parametrize("slug", REQUIRED)
def test_issue_diseases_present(kg, slug):
    node = kg.node(f"disease:{slug}")
    assert node.type == "disease"
    assert node.definition and node.sources


def test_icd10_codes_well_formed(kg):
    for d in kg.diseases:
        assert ICD10_RE.fullmatch(d.icd10), (d.id, d.icd10)
        if d.icd10_cm is not None:
            assert ICD10_CM_RE.fullmatch(d.icd10_cm), (d.id, d.icd10_cm)
            # the CM code refines the WHO category, never jumps to another one
            assert d.icd10_cm[:3] == d.icd10[:3], (d.id, d.icd10, d.icd10_cm)


@pytest.mark.parametrize(
    "slug, code",
    [
        ("pneumothorax", "J93.1"),
        ("tension_pneumothorax", "J93.0"),
        ("community_acquired_pneumonia", "J18.9"),
        ("lobar_pneumonia", "J18.1"),
        ("pleural_effusion", "J90"),
        ("pulmonary_embolism", "I26.9"),
        ("copd", "J44.9"),
        ("ards", "J80"),
        ("acute_appendicitis", "K35.8"),
        ("acute_cholecystitis", "K81.0"),
        ("hepatocellular_carcinoma", "C22.0"),
        ("aortic_dissection", "I71.0"),
        ("acute_pancreatitis", "K85.9"),
    ],
)
def test_icd10_spot_checks(kg, slug, code):
    assert kg.node(f"disease:{slug}").icd10 == code


def test_icd10_chapter_matches_region(kg):
    # chest: circulatory (I), respiratory (J), infections (A), thoracic neoplasms, sarcoid (D86),
    # lung imaging (R91), thoracic injuries (S2x); abdomen: digestive (K), liver neoplasms (C22, C78.7),
    # haemangioma (D18), abdominal injuries (S3x).
    chest = re.compile(r"^(I|J|A1[5-9]|C34|C78\.0|D86|R91|S2)")
    abdomen = re.compile(r"^(K|C22|C78\.7|D18|S3)")
    for d in kg.diseases:
        pattern = chest if d.region == "chest" else abdomen
        assert pattern.match(d.icd10), (d.id, d.region, d.icd10)


def test_icd10_codes_unique(kg):
    codes = [d.icd10_cm or d.icd10 for d in kg.diseases]
    assert len(codes) == len(set(codes))


def test_every_disease_has_source_synonyms_presentations_and_findings(kg):
    for d in kg.diseases:
        assert d.sources and all(s["title"] and s["publisher"] for s in d.sources), d.id
        assert all(s.get("url", "https://").startswith("https://") for s in d.sources), d.id
        assert d.synonyms, d.id
        assert kg.presentations_of(d.id), d.id
        assert kg.findings_of(d.id), d.id


def test_every_phantom_key_exists_and_every_vocabulary_key_is_mapped(kg):
    keys = {f.phantom_key for f in kg.nodes_of_type("imaging_finding") if f.phantom_key}
    assert keys, "no finding maps onto the simulator"
    assert keys <= set(FINDINGS)
    assert set(FINDINGS) <= keys  # every renderable finding is reachable from some disease finding


def test_every_finding_is_visible_somewhere_and_described_there(kg):
    for f in kg.nodes_of_type("imaging_finding"):
        modalities = kg.modalities_of(f.id)
        assert modalities, f.id
        assert set(modalities) == set(f.appearance), f.id


def test_chest_diseases_have_a_finding_visible_on_cxr_or_ct(kg):
    for d in kg.diseases:
        if d.region != "chest":
            continue
        tests = [t for _, f in kg.findings_of(d.id) for t in kg.tests_showing(f.id)]
        assert any(t.modality in ("cxr", "ct") and t.get("region") == "chest" for t in tests), d.id


def test_abdominal_diseases_have_a_finding_on_abdominal_imaging(kg):
    for d in kg.diseases:
        if d.region != "abdomen":
            continue
        modalities = {m for _, f in kg.findings_of(d.id) for m in kg.modalities_of(f.id)}
        assert modalities & {"ct", "us", "lap", "axr", "mri"}, d.id


def test_asthma_has_a_normal_chest_radiograph(kg):
    top_edge, top = kg.findings_of("disease:asthma_exacerbation")[0]
    assert top.id == "finding:normal_cxr" and top.get("normal") is True
    assert kg.phantom_findings("disease:asthma_exacerbation", "cxr") == []


# --------------------------------------------------------------------------- search
def _first(kg, text):
    hits = kg.search(text)
    assert hits, f"nothing found for {text!r}"
    return hits[0].id


def test_search_abbreviations(kg):
    assert _first(kg, "PTX") == "disease:pneumothorax"
    assert _first(kg, "CAP") == "disease:community_acquired_pneumonia"
    assert _first(kg, "PE") == "disease:pulmonary_embolism"
    assert _first(kg, "COPD") == "disease:copd"
    assert _first(kg, "CHF") == "disease:congestive_heart_failure"


def test_search_synonyms(kg):
    assert _first(kg, "collapsed lung") == "disease:pneumothorax"
    assert _first(kg, "heart attack") == "disease:acute_myocardial_infarction"
    assert _first(kg, "lung collapse") == "disease:atelectasis"
    assert _first(kg, "hepatoma") == "disease:hepatocellular_carcinoma"


def test_search_does_not_overmatch(kg):
    ids = {n.id for n in kg.search("heart attack")}
    assert "disease:pneumothorax" not in ids
    assert "disease:tension_pneumothorax" not in ids
    assert kg.search("") == [] and kg.search(" -- ") == []
    assert kg.search("zzzqqq") == []


def test_search_ignores_case_accents_and_punctuation(kg):
    assert _first(kg, "PNEUMO-THORAX") == "disease:pneumothorax"
    assert _first(kg, "hémothorax") == "disease:haemothorax"
    assert _first(kg, "  Community acquired, pneumonia! ") == "disease:community_acquired_pneumonia"
    assert normalize("Ödème  Pulmonaire") == "odeme pulmonaire"


def test_search_by_icd10_code(kg):
    assert _first(kg, "J93.1") == "disease:pneumothorax"
    assert _first(kg, "j93.11") == "disease:pneumothorax"
    assert {n.id for n in kg.search("J93")} >= {"disease:pneumothorax", "disease:tension_pneumothorax"}


def test_search_exact_before_prefix_before_substring(kg):
    hits = [n.id for n in kg.search("pneumothorax")]
    assert hits[0] == "disease:pneumothorax"  # exact synonym
    assert "disease:traumatic_pneumothorax" in hits  # substring/prefix later
    assert hits.index("disease:pneumothorax") < hits.index("disease:traumatic_pneumothorax")


def test_every_disease_is_found_by_each_of_its_terms(kg):
    for d in kg.diseases:
        assert kg.search(d.label)[0].id == d.id, d.label
        for term in d.terms:
            assert d.id in {n.id for n in kg.search(term)}, (d.id, term)


def test_search_can_filter_by_type(kg):
    assert all(n.type == "anatomy" for n in kg.search("RUL", types=["anatomy"]))
    assert kg.search("RUL", types=["anatomy"])[0].id == "anatomy:rul"


# --------------------------------------------------------------------------- lookups
def test_node_lookup(kg):
    assert kg.node("disease:tension_pneumothorax").label == "Tension pneumothorax"
    with pytest.raises(KeyError):
        kg.node("disease:does_not_exist")
    assert kg.get("disease:does_not_exist") is None


def test_nodes_are_frozen(kg):
    node = kg.node("disease:pneumothorax")
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.label = "x"
    with pytest.raises(TypeError):
        node.attrs["icd10"] = "X00"


def test_findings_of_sorted_with_attributes(kg):
    pairs = kg.findings_of("disease:community_acquired_pneumonia")
    freqs = [e.frequency for e, _ in pairs]
    assert freqs == sorted(freqs, reverse=True)
    edge, finding = pairs[0]
    assert finding.id == "finding:consolidation"
    assert edge.laterality in ("left", "right", "bilateral") and edge.location


def test_presentations_of(kg):
    ids = {n.id for _, n in kg.presentations_of("disease:pulmonary_embolism")}
    assert {"symptom:dyspnoea", "vital:tachypnoea", "symptom:pleuritic_chest_pain"} <= ids
    with pytest.raises(ValueError):
        kg.presentations_of("symptom:dyspnoea")


def test_differentials_are_symmetric(kg):
    cap, pe = "disease:community_acquired_pneumonia", "disease:pulmonary_embolism"
    assert pe in {n.id for _, n in kg.differentials_of(cap)}
    assert cap in {n.id for _, n in kg.differentials_of(pe)}
    for d in kg.diseases:
        for _, other in kg.differentials_of(d.id):
            assert d.id in {n.id for _, n in kg.differentials_of(other.id)}


def test_complications(kg):
    assert "disease:tension_pneumothorax" in {n.id for _, n in kg.complications_of("disease:pneumothorax")}
    sources = kg.complication_sources_of("disease:acute_cholecystitis")
    assert "disease:cholelithiasis" in {n.id for _, n in sources}


def test_reverse_lookup(kg):
    ids = [n.id for _, n in kg.diseases_with_finding("finding:pneumoperitoneum")]
    assert {"disease:perforated_viscus", "disease:perforated_peptic_ulcer"} <= set(ids)


# --------------------------------------------------------------------------- phantom + suggestions
def test_phantom_findings_examples(kg):
    tension = kg.phantom_findings("disease:tension_pneumothorax", "cxr")
    assert [f["key"] for f in tension] == ["tension_pneumothorax"]
    assert tension[0]["laterality"] in ("left", "right")

    lap = {f["key"]: f for f in kg.phantom_findings("disease:acute_cholecystitis", "lap")}
    assert {"gallbladder_inflamed", "gallstone"} <= set(lap)
    assert lap["gallstone"]["size_mm"] and lap["gallbladder_inflamed"]["size_mm"] is None
    assert kg.phantom_findings("disease:acute_cholecystitis", "cxr") == []

    assert kg.phantom_findings("disease:pulmonary_embolism", "cxr") == []
    pe_ct = kg.phantom_findings("disease:pulmonary_embolism", "ct")
    assert [f["key"] for f in pe_ct] == ["pulmonary_embolism"]

    mets = kg.phantom_findings("disease:lung_metastases", "cxr")  # bilateral nodules: one per side
    assert {(f["key"], f["laterality"]) for f in mets} == {("nodule", "left"), ("nodule", "right")}

    with pytest.raises(ValueError):
        kg.phantom_findings("disease:pneumothorax", "mri")


def test_phantom_findings_respect_min_frequency(kg):
    typical = {f["key"] for f in kg.phantom_findings("disease:rib_fracture", "cxr")}
    everything = {f["key"] for f in kg.phantom_findings("disease:rib_fracture", "cxr", min_frequency=0)}
    assert typical == {"rib_fracture"}
    assert {"rib_fracture", "pneumothorax", "effusion"} <= everything


def test_every_phantom_suggestion_is_a_valid_simulator_condition(kg):
    for d in kg.diseases:
        for modality in MODALITIES:
            findings = kg.phantom_findings(d.id, modality, min_frequency=0)
            assert len(findings) <= MAX_FINDINGS, (d.id, modality)
            conditions = Conditions(modality=modality, view=VIEWS[modality][0],
                                    findings=tuple(Finding(**f) for f in findings))
            conditions.validate()  # raises ConditionError on any impossible combination
            Conditions.from_json(json.loads(json.dumps(conditions.to_json())))


def test_suggest_case(kg):
    case = kg.suggest_case("disease:tension_pneumothorax")
    json.dumps(case)  # JSON-safe
    assert case["disease"]["icd10"] == "J93.0"
    assert case["findings"][0]["phantom_key"] == "tension_pneumothorax"
    assert "cxr" in case["findings"][0]["modalities"]
    assert {s["id"] for s in case["symptoms"]} >= {"symptom:dyspnoea"}
    assert {s["id"] for s in case["signs"]} >= {"sign:reduced_breath_sounds", "sign:tracheal_deviation"}
    vitals = {v["id"]: v for v in case["vitals"]}
    hypotension = vitals["vital:hypotension"]
    assert hypotension["parameter"] == "systolic_bp" and hypotension["max"] < 90
    assert vitals["vital:tachycardia"]["min"] > 100
    assert case["differentials"] and case["complication_of"]
    assert case["tests"]
    assert [f["key"] for f in case["phantom"]["cxr"]] == ["tension_pneumothorax"]
    assert case["phantom"]["lap"] == []
    with pytest.raises(ValueError):
        kg.suggest_case("finding:pneumothorax")


def test_vital_patterns_have_sane_ranges(kg):
    ranges = {v.id: (v.get("min"), v.get("max")) for v in kg.nodes_of_type("vital_pattern")}
    assert ranges["vital:tachycardia"][0] > 100
    assert ranges["vital:hypoxaemia"][1] < 94
    assert ranges["vital:fever"][0] >= 38.0
    assert ranges["vital:hypotension"][1] < 90
    assert ranges["vital:tachypnoea"][0] > 20


def test_lobes_present(kg):
    for abbr in ("RUL", "RML", "RLL", "LUL", "LLL"):
        node = kg.search(abbr, types=["anatomy"])[0]
        assert abbr in node.abbreviations and node.get("kind") == "lobe"
        assert node.get("side") == ("right" if abbr[0] == "R" else "left")


# ---------------------------------------------------------------- validate() catches planted errors
def _edge_index(data, etype, source=None, target=None):
    for i, e in enumerate(data["edges"]):
        if e["type"] != etype:
            continue
        if (source is None or e["source"] == source) and (target is None or e["target"] == target):
            return i
    raise AssertionError(f"no {etype} edge {source} -> {target}")


def _node(data, node_id):
    return next(n for n in data["nodes"] if n["id"] == node_id)


def _plant_unknown_endpoint(d):
    d["edges"][_edge_index(d, "has_finding")]["target"] = "finding:does_not_exist"


def _plant_unknown_source(d):
    d["edges"][_edge_index(d, "presents_with")]["source"] = "disease:ghost"


def _plant_duplicate_id(d):
    d["nodes"].append(copy.deepcopy(_node(d, "disease:pneumothorax")))


def _plant_bad_icd(d):
    _node(d, "disease:pneumothorax")["icd10"] = "J931"


def _plant_bad_icd_cm(d):
    _node(d, "disease:pneumothorax")["icd10_cm"] = "93.11"


def _plant_disallowed_edge(d):
    d["edges"].append({"type": "has_finding", "source": "disease:pneumothorax", "target": "symptom:dyspnoea",
                       "frequency": 0.5})


def _plant_reversed_edge(d):
    d["edges"].append({"type": "visible_in", "source": "test:cxr_pa", "target": "finding:pneumothorax"})


def _plant_unknown_edge_type(d):
    d["edges"].append({"type": "causes", "source": "disease:pneumothorax",
                       "target": "disease:tension_pneumothorax"})


def _plant_bad_phantom_key(d):
    _node(d, "finding:pneumothorax")["phantom_key"] = "collapsed_lung"


def _plant_frequency_high(d):
    d["edges"][_edge_index(d, "presents_with")]["frequency"] = 1.5


def _plant_frequency_negative(d):
    d["edges"][_edge_index(d, "has_finding")]["frequency"] = -0.1


def _plant_frequency_missing(d):
    del d["edges"][_edge_index(d, "has_finding")]["frequency"]


def _plant_no_source(d):
    _node(d, "disease:pneumothorax")["sources"] = []


def _drop_edges(d, etype, source):
    d["edges"] = [e for e in d["edges"] if not (e["type"] == etype and e["source"] == source)]


def _plant_no_presents_with(d):
    _drop_edges(d, "presents_with", "disease:pneumothorax")


def _plant_no_has_finding(d):
    _drop_edges(d, "has_finding", "disease:pneumothorax")


def _plant_impossible_laterality(d):
    i = _edge_index(d, "has_finding", "disease:congestive_heart_failure", "finding:cardiomegaly")
    d["edges"][i]["laterality"] = "left"


def _plant_location_wrong_side(d):
    i = _edge_index(d, "has_finding", "disease:community_acquired_pneumonia", "finding:consolidation")
    d["edges"][i]["laterality"], d["edges"][i]["location"] = "left", "RLL"


def _plant_unknown_location(d):
    d["edges"][_edge_index(d, "has_finding", "disease:pneumothorax")]["location"] = "left elbow"


def _plant_bad_severity(d):
    d["edges"][_edge_index(d, "has_finding", "disease:pneumothorax")]["severity"] = "catastrophic"


def _plant_size_on_sizeless(d):
    d["edges"][_edge_index(d, "has_finding", "disease:pneumothorax")]["size_mm"] = 20


def _plant_duplicate_edge(d):
    d["edges"].append(copy.deepcopy(d["edges"][_edge_index(d, "has_finding")]))


def _plant_reverse_duplicate_differential(d):
    e = d["edges"][_edge_index(d, "differential_of")]
    d["edges"].append({"type": "differential_of", "source": e["target"], "target": e["source"]})


def _plant_prefix_mismatch(d):
    node = _node(d, "symptom:dyspnoea")
    node["type"] = "sign"


def _plant_schema_version(d):
    d["schema_version"] = 2


def _plant_visible_in_lab(d):
    d["edges"].append({"type": "visible_in", "source": "finding:pneumothorax", "target": "test:d_dimer"})


def _plant_chest_disease_without_chest_imaging(d):
    _drop_edges(d, "has_finding", "disease:pneumothorax")
    d["edges"].append({"type": "has_finding", "source": "disease:pneumothorax",
                       "target": "finding:free_fluid", "frequency": 0.5})


def _plant_unknown_edge_attr(d):
    d["edges"][_edge_index(d, "presents_with")]["frequncy"] = 0.5


def _plant_bad_source_url(d):
    _node(d, "disease:pneumothorax")["sources"][0]["url"] = "www.example.org/guideline"


def _plant_bad_vital_range(d):
    node = _node(d, "vital:tachycardia")
    node["min"], node["max"] = 150, 100


def _plant_missing_appearance(d):
    _node(d, "finding:pneumothorax")["appearance"].pop("cxr")


PLANTED = [
    (_plant_unknown_endpoint, "unknown target node"),
    (_plant_unknown_source, "unknown source node"),
    (_plant_duplicate_id, "duplicate node id"),
    (_plant_bad_icd, "bad ICD-10 code"),
    (_plant_bad_icd_cm, "bad ICD-10-CM code"),
    (_plant_disallowed_edge, "is not allowed from a disease to a symptom"),
    (_plant_reversed_edge, "is not allowed from a test"),
    (_plant_unknown_edge_type, "unknown edge type"),
    (_plant_bad_phantom_key, "not in the simulator vocabulary"),
    (_plant_frequency_high, "outside 0..1"),
    (_plant_frequency_negative, "outside 0..1"),
    (_plant_frequency_missing, "missing frequency"),
    (_plant_no_source, "at least one source"),
    (_plant_no_presents_with, "no presents_with edge"),
    (_plant_no_has_finding, "no has_finding edge"),
    (_plant_impossible_laterality, "impossible for phantom finding"),
    (_plant_location_wrong_side, "is on the right but laterality is 'left'"),
    (_plant_unknown_location, "names no anatomy node"),
    (_plant_bad_severity, "severity 'catastrophic'"),
    (_plant_size_on_sizeless, "takes no size"),
    (_plant_duplicate_edge, "duplicate edge"),
    (_plant_reverse_duplicate_differential, "duplicate edge"),
    (_plant_prefix_mismatch, "does not match type"),
    (_plant_schema_version, "schema_version"),
    (_plant_visible_in_lab, "must point to an imaging test"),
    (_plant_chest_disease_without_chest_imaging, "no finding visible on a chest radiograph or CT"),
    (_plant_unknown_edge_attr, "unknown attribute"),
    (_plant_bad_source_url, "https://"),
    (_plant_bad_vital_range, "min < max"),
    (_plant_missing_appearance, "no appearance text for modality 'cxr'"),
]


@pytest.mark.parametrize("plant, expected", PLANTED, ids=[p.__name__[len("_plant_"):] for p, _ in PLANTED])
def test_validate_catches_planted_error(data, plant, expected):
    assert validate(data) == []
    plant(data)
    problems = validate(data)
    assert any(expected in p for p in problems), problems


def test_validate_reports_every_problem_not_just_the_first(data):
    _plant_bad_icd(data)
    _plant_bad_phantom_key(data)
    _plant_frequency_high(data)
    problems = validate(data)
    assert len(problems) >= 3


def test_validate_survives_garbage():
    assert validate([]) == ["the knowledge graph must be a JSON object"]
    garbage = {"schema_version": 1, "kg_version": "1.0.0", "nodes": [42, {"id": 7}], "edges": ["x"]}
    problems = validate(garbage)
    assert problems and all(isinstance(p, str) for p in problems)


def test_strict_load_rejects_bad_file(data, tmp_path):
    _plant_bad_icd(data)
    path = tmp_path / "kg.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(KnowledgeGraphError) as info:
        load(path)
    assert any("bad ICD-10 code" in p for p in info.value.problems)
    assert load(path, strict=False).node("disease:pneumothorax").icd10 == "J931"


# --------------------------------------------------------------------------- packaging
def test_counts_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "nodes by type:" in out and "edges by type:" in out and "0 problem(s)" in out


def test_no_django_import():
    code = (
        "import sys, cases.kg; cases.kg.load(); "
        "assert not any(m.startswith('django') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
