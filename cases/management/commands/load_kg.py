"""Load and validate the knowledge graph: the shipped data (as `make run` does at start) or a candidate
file an editor of the graph wants to check before it replaces cases/kg/data/medical-kg-v1.json."""

import json

from django.core.management.base import BaseCommand, CommandError

from cases.kg.schema import KnowledgeGraphError, load


class Command(BaseCommand):
    help = "Load the knowledge graph, list every problem if it is invalid, and print what it holds."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="a graph file to check (default: the shipped graph)")

    def handle(self, *args, path=None, **options):
        try:
            graph = load(path)
        except FileNotFoundError:
            raise CommandError(f"no knowledge graph file at {path}") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path or 'the shipped graph'} is not JSON: {exc}") from None
        except KnowledgeGraphError as exc:
            raise CommandError(f"the knowledge graph is invalid:\n{exc}") from None
        counts = graph.counts()
        nodes = ", ".join(f"{k}={v}" for k, v in counts["nodes"].items())
        self.stdout.write(self.style.SUCCESS(
            f"Knowledge graph {graph.kg_version} (schema {graph.schema_version}) loaded: "
            f"{sum(counts['nodes'].values())} nodes ({nodes}), {sum(counts['edges'].values())} edges."
        ))
