"""Medical knowledge graph (diseases, imaging findings, symptoms, signs, vitals, anatomy, tests).

Plain Python, no Django: ``from cases.kg import load`` and query the graph. See ``cases.kg.schema``.
"""

from .schema import (
    DATA_FILE,
    EDGE_TYPES,
    NODE_TYPES,
    SCHEMA_VERSION,
    Edge,
    KnowledgeGraph,
    KnowledgeGraphError,
    Node,
    default_graph,
    load,
    normalize,
    validate,
)

__all__ = [
    "DATA_FILE",
    "EDGE_TYPES",
    "NODE_TYPES",
    "SCHEMA_VERSION",
    "Edge",
    "KnowledgeGraph",
    "KnowledgeGraphError",
    "Node",
    "default_graph",
    "load",
    "normalize",
    "validate",
]
