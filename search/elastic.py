"""The Store on Elasticsearch (official async client), for scale-out deployments.

Layout: one index per kind behind an alias (see elastic_mappings); messages carry a copy of
their conversation's status, assignee and tags so search can filter on them.

One class composed of the parts, each a role of the port: elastic_repository (writes in
elastic_write), elastic_index, elastic_collections and elastic_dump (with reindex); the
client, aliases and low-level reads in elastic_client.
"""

from __future__ import annotations

from search.elastic_collections import ElasticCollections
from search.elastic_dump import ElasticDump, reindex
from search.elastic_index import ElasticIndex
from search.elastic_repository import ElasticRepository

__all__ = ["ElasticStore", "reindex"]


class ElasticStore(ElasticRepository, ElasticIndex, ElasticCollections, ElasticDump):
    """Store on Elasticsearch: aliased indices, one bulk per batch, search_after pages."""
