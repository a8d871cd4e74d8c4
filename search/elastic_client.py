"""The Elasticsearch store's connection: the client, the indices behind their aliases,
errors translated, and the low-level reads every part shares (mget, search, keyset pages
on search_after, and deep scans, the only reads that open a point in time)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from elastic_transport import SerializationError, TransportError
from elasticsearch import ApiError, AsyncElasticsearch

from inbox.errors import AuthFailed, FatalError, QueryError, StoreUnavailable
from inbox.model import Identity
from search.elastic_docs import classify, doc_id, error_parts, from_doc
from search.elastic_mappings import KINDS, SETTINGS, alias_name, index_name, mappings
from search.elastic_query import decode_cursor, encode_cursor

log = logging.getLogger(__name__)

Hit = dict[str, Any]
MESSAGE_ORDER = [{"created_at": "desc"}, {"id": "desc"}]
OLDEST_FIRST = [{"created_at": "asc"}, {"id": "asc"}]
SCAN_PAGE = 1000
PIT_KEEP_ALIVE = "2m"


def translate(exc: Exception, action: str) -> Exception:
    """A client error as the inbox error that tells the caller what to do."""
    if isinstance(exc, ApiError):
        etype, reason = error_parts(exc.body)
        return classify(exc.status_code, etype or str(exc.error), reason, action)
    if isinstance(exc, SerializationError):
        return FatalError(f"Elasticsearch {action}: unreadable response: {exc}")
    if isinstance(exc, TransportError):  # connection refused or reset, timeout, TLS
        return StoreUnavailable(f"Elasticsearch unreachable ({action}): {exc}")
    return exc


@contextmanager
def calling(action: str) -> Iterator[None]:
    """Translate client errors into inbox errors; nothing is swallowed."""
    try:
        yield
    except (ApiError, TransportError) as exc:
        raise translate(exc, action) from exc


class ElasticBase:
    """What every part of ElasticStore shares: the client, aliases and low-level reads."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ca_certs: str | None = None,
        index_prefix: str = "inbox",
        client_kwargs: Mapping[str, Any] | None = None,
        refresh: bool | str = True,
    ) -> None:
        self.url = url
        self.prefix = index_prefix
        # What a write a user reads next uses (WriteBatch.visible, the collections a user
        # lists after writing): searches only see refreshed segments. "wait_for" is gentler
        # on a busy cluster but waits up to the refresh interval (1 s) per call. Background
        # writes never refresh (elastic_write, elastic_collections say which).
        self.refresh = refresh
        self._client_args: dict[str, Any] = dict(client_kwargs or {})
        for name, value in (("api_key", api_key), ("basic_auth", basic_auth),
                            ("ca_certs", ca_certs)):
            if value is not None:
                self._client_args[name] = value
        self._es: AsyncElasticsearch | None = None
        self._backing: list[str] | None = None  # indices behind the messages alias

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def client(self) -> AsyncElasticsearch:
        if self._es is None:
            raise StoreUnavailable("the Elasticsearch store is not open")
        return self._es

    def alias(self, kind: str) -> str:
        return alias_name(self.prefix, kind)

    async def open(self) -> None:
        if self._es is None:
            self._es = AsyncElasticsearch(self.url, **self._client_args)
        try:
            for kind in KINDS:
                await self._ensure_index(kind)
        except BaseException:
            await self.aclose()
            raise

    async def _ensure_index(self, kind: str) -> None:
        alias = self.alias(kind)
        with calling("open"):
            if await self.client.indices.exists_alias(name=alias):
                await self._add_new_fields(kind)
                if kind == "messages":
                    await self._check_search_fields()
                return
            try:
                await self.client.indices.create(
                    index=index_name(self.prefix, kind, 1), settings=SETTINGS,
                    mappings=mappings(kind), aliases={alias: {"is_write_index": True}})
            except ApiError as exc:
                if exc.error != "resource_already_exists_exception":  # another process won
                    raise

    async def _check_search_fields(self) -> None:
        """Warn when messages indexed by an older version lack their words (searches cannot
        find them until `inbox migrate --reindex` writes them)."""
        resp = await self.client.count(index=self.alias("messages"), query={"bool": {
            "must_not": [{"exists": {"field": "terms"}}]}})
        if resp["count"]:
            log.warning("messages without their words: run `inbox migrate --reindex`",
                        extra={"messages": resp["count"]})

    async def _add_new_fields(self, kind: str) -> None:
        """Put the current mapping on the existing indices: fields added since they were
        created become searchable. Changed fields need reindex(); so does a role without the
        `manage` privilege on the indices. Both only log, so reindex() can still open."""
        try:
            current = await self.client.indices.get_mapping(index=self.alias(kind))
            known = {name: field for index in current.body.values()
                     for name, field in index.get("mappings", {}).get("properties", {}).items()}
            # new fields, and keyword bounds (ignore_above may change on an existing field)
            new = {name: field for name, field in mappings(kind)["properties"].items()
                   if name not in known or field.get("ignore_above") !=
                   known[name].get("ignore_above")}
            if new:
                await self.client.indices.put_mapping(index=self.alias(kind), properties=new)
        except ApiError as exc:
            if exc.status_code not in (400, 403):
                raise
            etype, reason = error_parts(exc.body)
            log.warning("index mapping not updated; run reindex",
                        extra={"kind": kind, "error": etype, "reason": reason})

    async def aclose(self) -> None:
        if self._es is not None:
            es, self._es = self._es, None
            await es.close()


    # --- low-level reads ------------------------------------------------------------------

    async def _mget(self, kind: str, ids: Sequence[str]) -> dict[str, Hit]:
        """Stored documents by id (realtime: no refresh needed), with seq_no/primary_term;
        keyed by the ids asked for (a long one is read under its hashed `_id`, doc_id)."""
        if not ids:
            return {}
        wanted = {doc_id(i): i for i in ids}
        with calling(f"read {kind}"):
            resp = await self.client.mget(index=self.alias(kind), ids=list(wanted))
        return {wanted[d["_id"]]: d for d in resp["docs"] if d.get("found")}

    async def _search(self, kind: str, action: str, **body: Any) -> dict[str, Any]:
        with calling(action):
            resp = await self.client.search(index=self.alias(kind), **body)
        return dict(resp.body)

    async def _scan(
        self, kind: str, query: dict[str, Any], sort: list[Any], source: Any = True
    ) -> list[Hit]:
        """Every hit of a query (see _scan_pages)."""
        return [hit async for page in self._scan_pages(kind, query, sort, source)
                for hit in page]

    async def _scan_pages(
        self, kind: str, query: dict[str, Any], sort: list[Any], source: Any = True
    ) -> AsyncIterator[list[Hit]]:
        """Every hit of a query, a page at a time on search_after (a deep scan).

        `sort` must end with a unique key (an id), so pages neither skip nor repeat. The
        first page is read without a point in time (most scans are one page); when more
        follow, the rest is read inside one point in time, closed in `finally` whatever
        happens (the caller stops early, is cancelled, or a page fails). Iterate under
        contextlib.aclosing() when you may stop early.
        """
        resp = await self._search(kind, f"read {kind}", query=query, sort=sort,
                                  size=SCAN_PAGE, source=source, track_total_hits=False)
        page = resp["hits"]["hits"]
        yield page
        if len(page) < SCAN_PAGE:
            return
        pit = opened = await self._open_pit(kind)
        try:
            # A point in time sorts with a last `_shard_doc` tiebreaker (Elasticsearch adds
            # one implicitly, and search_after must then carry its value): made explicit
            # here, descending, so the first page's last hit (read without one) continues
            # with -1, below every shard doc: as the sort ends with a unique key, only that
            # very hit sorts equal on the keys. https://github.com/elastic/elasticsearch/pull/68833
            body: dict[str, Any] = {"query": query, "sort": sort, "size": SCAN_PAGE,
                                    "source": source, "track_total_hits": False}
            after = page[-1]["sort"]
            if pit:
                body["sort"], after = [*sort, {"_shard_doc": "desc"}], [*after, -1]
            while len(page) == SCAN_PAGE:
                found = None
                if pit:
                    found = await self._in_pit(pit, kind, {**body, "search_after": after})
                    if found is None:  # gone (expired, or its index removed): on without it
                        pit, body["sort"], after = None, sort, after[:len(sort)]
                    else:  # the id may change from page to page
                        pit = opened = found.get("pit_id", pit)
                if found is None:
                    found = await self._search(kind, f"read {kind}", search_after=after, **body)
                page = found["hits"]["hits"]
                if page:
                    yield page
                    after = page[-1]["sort"]
        finally:
            if opened:
                await self._close_pit(opened)

    async def _in_pit(self, pit: str, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """A search inside a point in time (it names no index); None when the cluster no
        longer has it (a 404: expired, or its index removed)."""
        try:
            resp = await self.client.search(pit={"id": pit, "keep_alive": PIT_KEEP_ALIVE},
                                            **body)
        except ApiError as exc:
            if exc.status_code == 404:
                return None
            raise translate(exc, f"read {kind}") from exc
        except TransportError as exc:
            raise translate(exc, f"read {kind}") from exc
        return dict(resp.body)

    async def _message_indices(self) -> list[str]:
        """The concrete indices behind the messages alias (several after a rollover)."""
        if self._backing is None:
            try:
                resp = await self.client.indices.get_alias(name=self.alias("messages"))
            except ApiError as exc:
                if exc.status_code == 404:  # "alias [...] missing": the indices are gone
                    raise classify(404, "index_not_found_exception", str(exc.body),
                                   "read aliases") from exc
                raise translate(exc, "read aliases") from exc
            except TransportError as exc:
                raise translate(exc, "read aliases") from exc
            self._backing = sorted(resp.body)
        return self._backing

    async def _messages_where(self, ids: Sequence[str], source: Any) -> list[Hit]:
        """Message hits by id across every backing index, realtime (mget, not search: a
        message written a moment ago without a refresh is found, so it is never doubled)."""
        unique = list(dict.fromkeys(doc_id(i) for i in ids))
        if not unique:
            return []
        indices = await self._message_indices()
        hits: list[Hit] = []
        for start in range(0, len(unique), SCAN_PAGE):
            docs = [{"_index": index, "_id": doc_id, "_source": source}
                    for doc_id in unique[start:start + SCAN_PAGE] for index in indices]
            with calling("read messages"):
                resp = await self.client.mget(docs=docs)
            hits.extend(d for d in resp["docs"] if d.get("found"))
        return hits

    async def _page(
        self, kind: str, query: dict[str, Any], sort: list[Any], cursor: str | None, limit: int,
        **extra: Any,
    ) -> tuple[list[Hit], str | None, dict[str, Any]]:
        """One keyset page on search_after: `sort` ends with a unique key (an id), so the
        pages of one list neither skip nor repeat and need no point in time (a page leaves
        nothing open on the cluster). No total unless `extra` asks for one."""
        body: dict[str, Any] = {"query": query, "sort": sort, "size": limit + 1,
                                "track_total_hits": False, **extra}
        if cursor:
            after = decode_cursor(cursor)
            if len(after) != len(sort):
                raise QueryError("invalid cursor", 0, cursor)
            body["search_after"] = after
        try:
            resp = await self._search(kind, f"search {kind}", **body)
        except (FatalError, QueryError) as exc:  # the cluster refuses the cursor's values
            if cursor and not isinstance(exc, AuthFailed):
                raise QueryError("invalid cursor", 0, cursor) from exc
            raise
        hits = resp["hits"]["hits"]
        if len(hits) <= limit or limit < 1:
            return hits[:limit], None, resp
        hits = hits[:limit]
        return hits, encode_cursor(hits[-1]["sort"]), resp

    async def _open_pit(self, kind: str) -> str | None:
        """A point in time on the kind's indices, or None when the cluster refuses one
        (then the scan pages on its unique sort keys alone, which neither skips nor
        repeats). Tried again on every scan: one failure disables nothing."""
        try:
            resp = await self.client.open_point_in_time(index=self.alias(kind),
                                                        keep_alive=PIT_KEEP_ALIVE)
        except (ApiError, TransportError) as exc:
            log.warning("point in time refused, scanning without one",
                        extra={"kind": kind, "error": str(translate(exc, "open point in time"))})
            return None
        return str(resp["id"])

    async def _close_pit(self, pit: str) -> None:
        """Close a point in time; a failure is logged, not raised (the scan's own outcome
        matters more, and the cluster frees it after PIT_KEEP_ALIVE anyway)."""
        try:
            await self.client.options(ignore_status=404).close_point_in_time(id=pit)
        except (ApiError, TransportError) as exc:
            log.warning("point in time not closed (it expires by itself)",
                        extra={"error": str(translate(exc, "close point in time"))})

    async def _identities_of(self, customer_ids: Sequence[str]) -> dict[str, tuple[Identity, ...]]:
        hits = await self._scan("identities", {"terms": {"customer_id": list(customer_ids)}},
                                [{"created_at": "asc"}, {"key": "asc"}])
        grouped: dict[str, list[Identity]] = {}
        for hit in hits:
            ident = from_doc(Identity, hit["_source"])
            grouped.setdefault(ident.customer_id, []).append(ident)
        return {cid: tuple(items) for cid, items in grouped.items()}

