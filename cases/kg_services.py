"""The knowledge graph as the case editor uses it: validation, suggestions, warnings."""

from __future__ import annotations

from inference.vocabulary import FINDINGS

from .kg import default_graph


def kg_version() -> str:
    return default_graph().kg_version


def kg_disease(disease_id: str):
    node = default_graph().nodes.get(disease_id)
    return node if node is not None and node.type == "disease" else None


def kg_names(*, node_ids: list[str]) -> dict[str, dict]:
    """Label and ICD-10 code of each id the graph knows: the editor names the nodes a case links by them."""
    nodes = default_graph().nodes
    return {node_id: {"label": nodes[node_id].label, "icd10": nodes[node_id].attrs.get("icd10")}
            for node_id in node_ids if node_id in nodes}


def version_warnings(*, version) -> list[str]:
    """What an educator should look at before publishing; none of it blocks saving."""
    warnings = []
    graph = default_graph()
    if version.diagnosis_id:
        disease = kg_disease(version.diagnosis_id)
        if disease is None:
            warnings.append(f"The diagnosis {version.diagnosis_id!r} is not in the knowledge graph.")
        else:
            expected = {
                node.attrs.get("phantom_key") for _, node in graph.findings_of(disease.id)
            } - {None}
            for study in version.studies.all():
                chosen = {f["key"] for f in study.findings}
                if chosen and not chosen & expected:
                    names = ", ".join(FINDINGS[k].label for k in sorted(chosen))
                    warnings.append(f"{study.title}: no chosen finding ({names}) is linked to "
                                    f"{disease.label} in the knowledge graph.")
    else:
        warnings.append("The diagnosis is free text: link it to a knowledge-graph disease so synonyms are "
                        "accepted and findings can be suggested.")
    return warnings
