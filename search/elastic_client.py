"""The Elasticsearch store's connection: the client, the indices behind their aliases,
errors translated, and the low-level reads every part shares (mget, search, keyset pages
on search_after, and deep scans, the only reads that open a point in time)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from elastic_transport import SerializationError, TransportError
from elasticsearch import ApiError, AsyncElasticsearch

from inbox.errors import AuthFailed, FatalError, QueryError, StoreRefused, StoreUnavailable
from inbox.model import Identity
from search.elastic_docs import classify, doc_id, error_parts, from_doc
from search.elastic_mappings import (
    KINDS,
    alias_name,
    index_name,
    index_number,
    index_settings,
    mappings,
    next_alias,
)
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


@dataclass(frozen=True, slots=True)
class Generations:
    """Where a kind's documents are now."""

    read: tuple[str, ...]  # the indices behind the alias, oldest first
    write: str  # the alias's write index: where new documents go
    next: str | None  # the index a running reindex fills (every write reaches it too)


def generations(alias: str, behind: Mapping[str, Mapping[str, Any]],
                following: Mapping[str, Any]) -> Generations:
    """Generations from the aliases' indices ({index: alias properties})."""
    if not behind:
        raise classify(404, "index_not_found_exception", f"alias [{alias}] missing",
                       "read aliases")
    read = tuple(sorted(behind, key=index_number))
    writes = [index for index, props in behind.items() if props.get("is_write_index")]
    # an alias over one index writes to it without the flag
    write = writes[0] if writes else read[-1]
    return Generations(read, write, next(iter(following), None))


def carry_targets(index: str, behind: Mapping[str, Any], following: Mapping[str, Any]
                  ) -> tuple[str, ...]:
    """Where a write that landed on `index` must be repeated: the alias's write index when
    the alias no longer covers `index` (a reindex swapped it away meanwhile), and the index
    a reindex fills."""
    targets = []
    if behind and index not in behind and index not in following:
        targets.append(generations("", behind, {}).write)
    targets += [name for name in following if name not in targets]
    return tuple(name for name in targets if name != index)


def _repeat(action: str, doc: Any, result: Mapping[str, Any], target: str
            ) -> list[Mapping[str, Any]]:
    """The bulk lines repeating one applied write on `target`."""
    meta: dict[str, Any] = {"_index": target, "_id": result["_id"]}
    if action == "update":  # partial: applies to the copy (404: not copied yet)
        return [{"update": meta}, doc]
    # The version the write got where it landed orders the repeats: two writers' repeats
    # may arrive in either order, the later version stays (external_gte; a copy made by
    # the reindex has version 1).
    meta |= {"version": result["_version"], "version_type": "external_gte"}
    return [{"delete": meta}] if action == "delete" else [{"index": meta}, doc]


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
        shards: int = 1,
        replicas: int = 1,
        client_kwargs: Mapping[str, Any] | None = None,
        refresh: bool | str = True,
    ) -> None:
        self.url = url
        self.prefix = index_prefix
        self.index_settings = index_settings(shards, replicas)  # for indices it creates
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

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def client(self) -> AsyncElasticsearch:
        if self._es is None:
            raise StoreUnavailable("the Elasticsearch store is not open")
        return self._es

    def alias(self, kind: str) -> str:
        return alias_name(self.prefix, kind)

    async def connect(self) -> None:
        """The client alone (open() also creates what is missing)."""
        if self._es is None:
            self._es = AsyncElasticsearch(self.url, **self._client_args)

    async def open(self) -> None:
        await self.connect()
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
                    index=index_name(self.prefix, kind, 1), settings=self.index_settings,
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

    # --- where documents live ---------------------------------------------------------------
    # Never cached: another process may roll the messages over or reindex any kind at any
    # moment, and a stale list sent an edit to an index no longer behind the alias (lost to
    # search) or missed the index holding a message (stored twice). One alias read per
    # write batch is the price (a cluster-state read on the node that answers).

    async def _aliases(self, names: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """{alias: {index: properties}} for these alias names, as the cluster has them now
        (names that do not exist are left out)."""
        with calling("read aliases"):
            resp = await self.client.options(ignore_status=404).indices.get_alias(
                name=",".join(names))
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for index, entry in resp.body.items():  # a 404 also holds "error" and "status"
            if isinstance(entry, Mapping):
                for alias, props in (entry.get("aliases") or {}).items():
                    found.setdefault(alias, {})[index] = dict(props or {})
        return found

    async def _generations(self, kind: str) -> Generations:
        """The indices behind a kind's alias now, its write index and a reindex's target."""
        alias, following = self.alias(kind), next_alias(self.prefix, kind)
        found = await self._aliases([alias, following])
        return generations(alias, found.get(alias, {}), found.get(following, {}))

    async def _messages_where(self, ids: Sequence[str], source: Any) -> list[Hit]:
        """Message hits by id across every index behind the alias, realtime (mget, not
        search: a message written a moment ago without a refresh is found, so it is never
        doubled). Each id lives in one of them (edits go where it is: _apply); were one
        in two, the newest would answer."""
        unique = list(dict.fromkeys(doc_id(i) for i in ids))
        if not unique:
            return []
        indices = (await self._generations("messages")).read
        newest: dict[str, Hit] = {}
        for start in range(0, len(unique), SCAN_PAGE):
            docs = [{"_index": index, "_id": key, "_source": source}
                    for key in unique[start:start + SCAN_PAGE] for index in indices]
            with calling("read messages"):
                resp = await self.client.mget(docs=docs)
            for doc in resp["docs"]:
                if doc.get("found"):
                    newest[doc["_id"]] = doc  # indices oldest first: the newest stays
        return list(newest.values())

    async def _carry_over(self, written: Sequence[tuple[str, Any, Mapping[str, Any]]],
                          refresh: bool | str) -> None:
        """Bring what was just written to where the alias will find it, during a reindex.

        `written` holds (action, body, result) of applied writes: create, index, update (body
        {"doc": ...}) or delete, and the cluster's result naming the concrete index and the
        version. A repeat that finds a newer version there is dropped (409). Read
        after the write, the aliases say whether a reindex is filling a new index (its
        `-next` alias) or has just swapped the alias away from the index written: then the
        write is repeated there. A reindex sets the `-next` alias before it copies and swaps
        the alias after, so every write is either copied or carried over (see reindex).
        """
        kinds = {kind for _, _, result in written
                 if (kind := self._kind_of(str(result.get("_index", ""))))}
        if not kinds:
            return
        found = await self._aliases([name for kind in sorted(kinds) for name in
                                     (self.alias(kind), next_alias(self.prefix, kind))])
        body: list[Mapping[str, Any]] = []
        for action, doc, result in written:
            kind = self._kind_of(str(result["_index"]))
            if kind is None:
                continue
            for target in carry_targets(str(result["_index"]),
                                        found.get(self.alias(kind), {}),
                                        found.get(next_alias(self.prefix, kind), {})):
                body += _repeat(action, doc, result, target)
        if not body:
            return
        with calling("write (carried over to the reindexed index)"):
            resp = await self.client.bulk(operations=body, refresh=refresh)
        for item in resp["items"]:
            result = next(iter(item.values()))
            if "error" in result and int(result.get("status", 0)) not in (404, 409):
                etype, reason = error_parts(result)
                raise StoreUnavailable(f"Elasticsearch write: not carried over into the "
                                       f"index a reindex fills ({etype}: {reason}); retry")

    def _kind_of(self, index: str) -> str | None:
        """The kind of one of this store's concrete indices ({prefix}-{kind}-{n:06d})."""
        head, _, number = index.rpartition("-")
        if not number.isdigit() or not head.startswith(f"{self.prefix}-"):
            return None
        kind = head[len(self.prefix) + 1:]
        return kind if kind in KINDS else None

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
        except (FatalError, QueryError, StoreRefused) as exc:  # the cluster refuses the cursor
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

