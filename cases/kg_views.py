"""The knowledge graph in the browser: a searchable reference for every role, and JSON for the editor."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from simulator.accounts.access import require_role_for

from .kg import default_graph
from .kg.schema import NODE_TYPES

SEARCH_LIMIT = 50


def _node_summary(node) -> dict:
    return {"id": node.id, "type": node.type, "label": node.label, "synonyms": list(node.synonyms),
            "abbreviations": list(node.abbreviations), "icd10": node.attrs.get("icd10"),
            "phantom_key": node.attrs.get("phantom_key")}


@login_required
@require_GET
def kg_browse(request):
    require_role_for(request.user, "kg.browse")
    graph = default_graph()
    query = request.GET.get("q", "").strip()[:100]
    node_type = request.GET.get("type", "")
    types = [node_type] if node_type in NODE_TYPES else None
    if query:
        nodes = graph.search(query, types=types, limit=SEARCH_LIMIT)
    else:
        nodes = graph.nodes_of_type(node_type) if types else graph.diseases
    return render(request, "kg/browse.html", {
        "query": query, "node_type": node_type, "types": NODE_TYPES, "nodes": nodes, "graph": graph,
        "counts": {t: len(graph.nodes_of_type(t)) for t in NODE_TYPES},
    })


@login_required
@require_GET
def kg_node(request, node_id: str):
    require_role_for(request.user, "kg.browse")
    graph = default_graph()
    node = graph.get(node_id)
    if node is None:
        raise Http404("No such knowledge-graph node.")
    outgoing = [(edge, graph.node(edge.target)) for edge in graph.edges_from(node.id)]
    incoming = [(edge, graph.node(edge.source)) for edge in graph.edges_to(node.id)]
    return render(request, "kg/node.html", {
        "node": node, "outgoing": outgoing, "incoming": incoming,
        "attrs": {k: v for k, v in node.attrs.items() if k not in ("sources",)},
        "sources": node.attrs.get("sources", ()),
    })


@login_required
@require_GET
def kg_search_json(request):
    require_role_for(request.user, "kg.browse")
    query = request.GET.get("q", "").strip()[:100]
    node_type = request.GET.get("type", "")
    if node_type and node_type not in NODE_TYPES:
        return JsonResponse({"error": f"unknown node type {node_type!r}"}, status=400)
    nodes = default_graph().search(query, types=[node_type] if node_type else None, limit=15) if query else []
    return JsonResponse({"results": [_node_summary(n) for n in nodes]})


@login_required
@require_GET
def kg_ground_json(request):
    """What a study prompt was understood as, for the editor to show as the educator types."""
    from inference.vocabulary import MODALITIES

    from .grounding import ground_prompt

    require_role_for(request.user, "case.create")
    modality = request.GET.get("modality", "cxr")
    if modality not in MODALITIES:
        return JsonResponse({"error": f"unknown modality {modality!r}"}, status=400)
    return JsonResponse(ground_prompt(request.GET.get("text", ""), modality=modality).to_json())


@login_required
@require_GET
def kg_suggest_json(request, node_id: str):
    require_role_for(request.user, "case.create")
    graph = default_graph()
    node = graph.get(node_id)
    if node is None or node.type != "disease":
        return JsonResponse({"error": f"{node_id!r} is not a knowledge-graph disease"}, status=404)
    return JsonResponse(graph.suggest_case(node_id))
