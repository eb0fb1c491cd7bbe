"""`python -m cases.kg [path]`: validate the knowledge graph and print node/edge counts by type."""

from .schema import main

raise SystemExit(main())
