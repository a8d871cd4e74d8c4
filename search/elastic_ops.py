"""Operating the Elasticsearch store: roll the messages over, and check that the configured
credentials hold every privilege the store needs (`inbox es rollover`, `inbox es check`).

Rollover is done here with plain index and alias calls, not the `_rollover` API or index
lifecycle management (ILM): ILM's rollover creates the next index from an index template,
which the store does not install (its indices carry their mappings and settings), and the
calls below exist on every server speaking the REST API. Schedule `inbox es rollover` (a
daily timer); it rolls over only when a condition is met.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from elasticsearch import ApiError

from inbox.errors import FatalError
from search.elastic_client import ElasticBase, calling, translate
from search.elastic_docs import error_parts
from search.elastic_mappings import index_name, index_number, mappings

GB = 1024 ** 3
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class RolloverConditions:
    """When the messages' write index is full: any one condition met rolls it over."""

    max_gb: float | None = 50.0  # primary store size
    max_days: float | None = 30.0  # age since the index was created
    max_docs: int | None = None


@dataclass(frozen=True, slots=True)
class Rollover:
    old: str  # the write index before
    new: str | None  # the new write index (None: not rolled over)
    why: str  # the conditions met, or why not


def conditions_met(cond: RolloverConditions, size_bytes: int, age_seconds: float,
                   docs: int) -> list[str]:
    """The conditions a write index of this size, age and document count meets."""
    met = []
    if cond.max_gb is not None and size_bytes >= cond.max_gb * GB:
        met.append(f"size {size_bytes / GB:.1f} GB >= {cond.max_gb:g} GB")
    if cond.max_days is not None and age_seconds >= cond.max_days * DAY:
        met.append(f"age {age_seconds / DAY:.1f} days >= {cond.max_days:g} days")
    if cond.max_docs is not None and docs >= cond.max_docs:
        met.append(f"{docs} documents >= {cond.max_docs}")
    return met


async def rollover(store: ElasticBase, cond: RolloverConditions, force: bool = False,
                   now: float | None = None) -> Rollover:
    """Give the messages a new write index when the current one meets a condition (or
    `force`). The older indices stay behind the alias: searches read them, and an edit goes
    to the index holding the message (ElasticBase._messages_where)."""
    es = store.client
    gens = await store._generations("messages")
    if gens.next is not None:
        raise FatalError(f"a reindex of the messages into {gens.next} has not finished: "
                         "run `inbox migrate --reindex` to finish it, then roll over")
    old = gens.write
    with calling("rollover"):
        stats = (await es.indices.stats(index=old, metric="docs,store")).body
        settings = (await es.indices.get_settings(index=old, name="index.creation_date")).body
    primaries = stats["indices"][old]["primaries"]
    created = int(settings[old]["settings"]["index"]["creation_date"]) / 1000
    met = conditions_met(cond, int(primaries["store"]["size_in_bytes"]),
                         (time.time() if now is None else now) - created,
                         int(primaries["docs"]["count"]))
    if not met and not force:
        return Rollover(old, None, "no condition met")
    new = index_name(store.prefix, "messages", index_number(old) + 1)
    alias = store.alias("messages")
    try:
        await es.indices.create(index=new, settings=store.index_settings,
                                mappings=mappings("messages"))
    except ApiError as exc:
        if exc.error == "resource_already_exists_exception":  # another rollover won
            return Rollover(old, None, f"{new} exists already (rolled over by another run)")
        raise translate(exc, "rollover") from exc
    with calling("rollover"):  # one atomic alias change: new documents go to the new index
        await es.indices.update_aliases(actions=[
            {"add": {"index": old, "alias": alias, "is_write_index": False}},
            {"add": {"index": new, "alias": alias, "is_write_index": True}}])
    return Rollover(old, new, ", ".join(met) or "forced")


# --- privileges -----------------------------------------------------------------------------

# What the store calls, by who calls it. Index privileges apply to `{prefix}-*` (indices and
# aliases). Serving: searches, mget and points in time (read), bulk writes (write), alias
# and mapping reads (view_index_metadata). Creating an index with its alias needs `manage`
# on the alias (create index API, "Prerequisites"), as do alias changes and mapping
# updates: first start, upgrades adding fields, rollover and reindex; a reindex also
# follows its task (GET _tasks/<id>: cluster `monitor`).
SERVE_INDEX = ("read", "write", "view_index_metadata")
OPS_INDEX = ("manage",)
OPS_CLUSTER = ("monitor",)


@dataclass(frozen=True, slots=True)
class PrivilegeCheck:
    secured: bool  # False: the server has no security (every request is allowed)
    user: str
    missing: tuple[str, ...]  # "cluster: monitor", "index inbox-*: manage"
    note: str = ""


def index_pattern(prefix: str) -> str:
    return f"{prefix}-*"


async def check_privileges(store: ElasticBase, ops: bool = False) -> PrivilegeCheck:
    """Which of the privileges the store needs the configured credentials lack (the has
    privileges API: every user may ask about their own)."""
    pattern = index_pattern(store.prefix)
    cluster: Sequence[str] = OPS_CLUSTER if ops else ()
    index = (*SERVE_INDEX, *OPS_INDEX) if ops else SERVE_INDEX
    try:
        resp = (await store.client.security.has_privileges(
            cluster=list(cluster), index=[{"names": [pattern], "privileges": list(index)}])).body
    except ApiError as exc:
        # A cluster without security answers an error (a 4xx or 500 saying security is not
        # enabled), as does a server without the API; refused credentials are 401/403.
        if exc.status_code in (401, 403) or exc.status_code < 400:
            raise translate(exc, "check privileges") from exc
        etype, reason = error_parts(exc.body)
        return PrivilegeCheck(False, "", (), f"{exc.status_code} {etype}: {reason}".strip())
    missing = [f"cluster: {name}" for name, ok in resp.get("cluster", {}).items() if not ok]
    for names, granted in resp.get("index", {}).items():
        missing += [f"index {names}: {name}" for name, ok in granted.items() if not ok]
    return PrivilegeCheck(True, str(resp.get("username", "")), tuple(missing))

