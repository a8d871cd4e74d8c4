"""`inbox es ...` and `inbox migrate --reindex`: operating an Elasticsearch store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from inbox.app import config as cfg
from inbox.config import StoreSettings

Work = Callable[[StoreSettings, argparse.Namespace], Awaitable[int]]


def add_commands(sub: Any, command: Callable[[Work], Any]) -> None:
    """The `es` command group on the CLI's subparsers; `command` makes a CLI command of
    work on the configured store settings."""
    es = sub.add_parser("es", help="operate the Elasticsearch store").add_subparsers(
        dest="es", required=True)
    s = es.add_parser("check", help="check the credentials hold every privilege the store "
                      "needs, and print what is missing")
    s.add_argument("--ops", action="store_true",
                   help="also the privileges of creating the indices, `inbox es rollover` "
                   "and `migrate --reindex`")
    s.set_defaults(func=command(es_check))
    s = es.add_parser("rollover", help="start a new messages index when the current one is "
                      "older or larger than store.rollover_max_* (run it daily)")
    s.add_argument("--force", action="store_true", help="roll over whatever the conditions")
    s.set_defaults(func=command(es_rollover))


def _elastic(settings: StoreSettings) -> Any:
    from search.elastic import ElasticStore

    store = cfg.make_store(settings)
    if not isinstance(store, ElasticStore):
        print("this command applies to an Elasticsearch store (INBOX_STORE=http(s)://...)",
              file=sys.stderr)
        return None
    return store


async def _with_elastic(settings: StoreSettings, work: Callable[[Any], Awaitable[int]],
                        open_store: bool = True) -> int:
    store = _elastic(settings)
    if store is None:
        return 2
    try:
        if open_store:
            await store.open()
        else:  # the client alone: checking privileges creates nothing
            await store.connect()
        return await work(store)
    finally:
        await store.aclose()


async def es_check(settings: StoreSettings, args: argparse.Namespace) -> int:
    from search.elastic_ops import check_privileges, index_pattern

    async def work(store: Any) -> int:
        found = await check_privileges(store, ops=args.ops)
        if not found.secured:
            print("the server has no security (no has-privileges API): every request is "
                  f"allowed ({found.note})")
            return 0
        what = "serving and operations" if args.ops else "serving (add --ops for creating "\
               "the indices, rollover and reindex)"
        if not found.missing:
            print(f"{found.user}: every privilege the store needs for {what} on "
                  f"{index_pattern(store.prefix)}")
            return 0
        print(f"{found.user} lacks {len(found.missing)} privilege(s) the store needs for "
              f"{what}:")
        for name in found.missing:
            print(f"  missing {name}")
        return 1

    return await _with_elastic(settings, work, open_store=False)


async def es_rollover(settings: StoreSettings, args: argparse.Namespace) -> int:
    from search.elastic_ops import RolloverConditions, rollover
    cond = RolloverConditions(settings.rollover_max_gb, settings.rollover_max_days,
                              settings.rollover_max_docs)

    async def work(store: Any) -> int:
        done = await rollover(store, cond, force=args.force)
        if done.new is None:
            print(f"{done.old} stays the write index: {done.why}")
        else:
            print(f"rolled over: new messages go to {done.new} ({done.why}); {done.old} "
                  "stays searchable")
        return 0

    return await _with_elastic(settings, work)


async def reindex_command(store: Any) -> int:
    """`inbox migrate --reindex`: every kind to a new index while the service runs."""
    from search.elastic import ElasticStore, reindex

    if not isinstance(store, ElasticStore):
        print("--reindex applies to an Elasticsearch store (INBOX_STORE=http(s)://...)",
              file=sys.stderr)
        return 2

    def progress(kind: str, done: int, total: int) -> None:
        print(f"{kind:<14} {done}/{total} copied", flush=True)

    await store.open()
    try:
        for kind, index in (await reindex(store, progress=progress)).items():
            print(f"{kind:<14} now on {index}")
    finally:
        await store.aclose()
    return 0
