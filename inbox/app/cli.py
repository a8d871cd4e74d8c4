"""The `inbox` command."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from inbox import deadletters
from inbox import query as ql
from inbox.app import config as cfg
from inbox.app.cli_es import Work, add_commands, reindex_command
from inbox.app.config import declared_settings
from inbox.app.runtime import Runtime
from inbox.errors import ConfigError, InboxError, QueryError, ValidationError
from inbox.model import Role
from inbox.settings import check_keys, template
from inbox.usecases.conversations import SYSTEM

log = logging.getLogger("inbox")
DEFAULT_CONFIG = "inbox.toml"


def _config(args: argparse.Namespace, env: Mapping[str, str],
            overrides: Mapping[str, Any] | None = None) -> cfg.Config:
    """The config file (--config, INBOX_CONFIG or ./inbox.toml), every key checked against
    the declared settings, with the environment and then these command-line values applied."""
    path = getattr(args, "config", None) or env.get("INBOX_CONFIG")
    if path is None and Path(DEFAULT_CONFIG).exists():
        path = DEFAULT_CONFIG
    data = cfg.read_file(path)
    check_keys(data, declared_settings())
    config = cfg.resolve(data, env)
    for key, value in (overrides or {}).items():
        if value is not None:
            section, _, name = key.partition(".")
            config[section] = {**config.get(section, {}), name: value}
    return cfg.resolve(config)


async def _with_runtime(config: Mapping[str, Any], env: Mapping[str, str],
                        work: Callable[[Runtime], Awaitable[int]],
                        channels: bool = False) -> int:
    runtime = Runtime(config, env, channels=channels, replies=False)
    await runtime.start()
    try:
        return await work(runtime)
    finally:
        await runtime.aclose()


async def serve(runtime: Runtime, host: str, port: int, banner: str = "",
                role: str = "all") -> None:
    """Run until interrupted: the web app (roles all, web) and the workers (all, worker)."""
    from aiohttp import web

    from web.app import runner as web_runner

    runner = None
    if role in ("all", "web"):
        runner = web_runner(runtime.web_context())
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        print(f"unified-inbox listening on http://{host}:{port}/", flush=True)
        runtime.warm_reports()
    if role in ("all", "worker"):
        await runtime.start_workers()
        names = ", ".join(c.name for c in runtime.connectors) or "no connectors configured"
        print(f"unified-inbox worker running: {names}", flush=True)
    if banner:
        print(banner, flush=True)
    # What starting made (modules, settings, the app) lives as long as the process: kept out
    # of the garbage collector's full passes, which otherwise stall requests for ~30 ms
    gc.collect()
    gc.freeze()
    try:
        await asyncio.Event().wait()
    finally:
        if runner is not None:
            await runner.cleanup()


def cmd_serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    config = _config(args, env, {"web.host": args.host, "web.port": args.port})

    async def run() -> int:
        runtime = Runtime(config, env)  # web processes still need the reply senders
        await runtime.start()
        try:
            web = runtime.settings.web
            await serve(runtime, web.host, web.port, role=args.role)
        finally:
            await runtime.aclose()
        return 0

    return _run(run(), fast_loop())


def cmd_demo(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from inbox.app.demo.seed import seed

    store_path = Path(args.store)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    config = _config(args, env, {"store.url": f"sqlite:///{store_path}", "web.host": args.host,
                                 "web.port": args.port})

    async def run() -> int:
        from search.sqlite import SqliteStore

        # a throwaway store: no disk sync per commit (seeding replays ~30,000 actions)
        runtime = Runtime(config, env, store=SqliteStore(store_path, durable=False),
                          channels=False)
        await runtime.start()
        try:
            summary = await seed(runtime)
            host, port = config.core.web.host, config.core.web.port
            banner = (f"Demo store {store_path}: {summary}\n"
                      f"Sign in at http://{host}:{port}/login as one of:\n"
                      + "".join(f"  {email:<28} {role:<9} password: {summary.password}\n"
                                for email, role in summary.users)
                      + f"API: curl -H 'Authorization: Bearer {summary.token}' "
                        f"http://{host}:{port}/api/conversations\n"
                      f"Public web form: http://{host}:{port}/forms/contact")
            await serve(runtime, host, port, banner)
        finally:
            await runtime.aclose()
        return 0

    return _run(run())


def cmd_init(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    path = Path(args.path or getattr(args, "config", None) or DEFAULT_CONFIG)
    if path.exists() and not args.force:
        print(f"{path} exists; use --force to overwrite it", file=sys.stderr)
        return 1
    path.write_text(config_template(), encoding="utf-8")
    print(f"wrote {path}; edit it, then run: inbox serve --config {path}")
    return 0


def config_template() -> str:
    """The commented inbox.toml `inbox init` writes, generated from every declared setting."""
    return template(declared_settings(), TEMPLATE_INTRO)


TEMPLATE_INTRO = (
    "unified-inbox configuration, written by `inbox init` from the declared settings.",
    "Each setting is shown commented out with its default (or an example): uncomment",
    "and change what you need. A variable named beside a setting (env INBOX_...) overrides",
    "the file. Secrets belong in the environment, not in this file.",
)


def _read_password(prompt: str = "Password: ") -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != password:
        raise ValidationError({"password": "the two entries differ"})
    return password


def _users_command(args: argparse.Namespace, env: Mapping[str, str],
                   work: Callable[[Runtime], Awaitable[str]]) -> int:
    """Run one account command and print what it did."""

    async def run(runtime: Runtime) -> int:
        print(await work(runtime))
        return 0

    return _run(_with_runtime(_config(args, env), env, run))


def cmd_users_add(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    password = _read_password()

    async def work(runtime: Runtime) -> str:
        user = await runtime.accounts.add_user(args.email, args.role, password, args.name)
        return f"user {user.email} ({user.role}) saved"

    return _users_command(args, env, work)


def cmd_users_passwd(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    password = _read_password("New password: ")

    async def work(runtime: Runtime) -> str:
        user = await runtime.accounts.set_password(args.email, password)
        return f"password of {user.email} changed; their sessions and tokens are revoked"

    return _users_command(args, env, work)


def cmd_users_disable(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    return _users_disabled(args, env, True)


def cmd_users_enable(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    return _users_disabled(args, env, False)


def _users_disabled(args: argparse.Namespace, env: Mapping[str, str], disabled: bool) -> int:
    async def work(runtime: Runtime) -> str:
        user = await runtime.accounts.set_disabled(args.email, disabled)
        if disabled:
            return f"user {user.email} disabled; their sessions and tokens are revoked"
        return f"user {user.email} enabled"

    return _users_command(args, env, work)


def cmd_users_remove(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    async def work(runtime: Runtime) -> str:
        await runtime.accounts.remove_user(args.email)
        return f"user {args.email} removed, with their tokens"

    return _users_command(args, env, work)


def cmd_users_token(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    async def work(runtime: Runtime) -> str:
        return await runtime.accounts.create_token(args.email, days=args.days,
                                                   label=args.label)

    return _users_command(args, env, work)


def cmd_users_list(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    async def work(runtime: Runtime) -> str:
        return "\n".join(
            f"{u.email}\t{u.role}\t{'disabled' if u.disabled else 'active'}\t"
            f"last sign-in {_when(u.last_sign_in) or 'never'}\t{u.id}"
            for u in await runtime.accounts.users()) or "no users yet"

    return _users_command(args, env, work)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def cmd_tokens_list(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    async def work(runtime: Runtime) -> str:
        rows = [f"{t.id}\t{t.email}\tcreated {_when(t.created_at)}\t"
                + ("EXPIRED " if t.expired() else "")
                + (f"expires {_when(t.expires_at)}" if t.expires_at else "never expires")
                + (f"\t{t.label}" if t.label else "")
                for t in await runtime.accounts.tokens(args.email)]
        return "\n".join(rows) or "no tokens"

    return _users_command(args, env, work)


def cmd_tokens_revoke(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    async def work(runtime: Runtime) -> str:
        token = await runtime.accounts.revoke_token(args.id)
        return f"token {token.id} of {token.email} revoked"

    return _users_command(args, env, work)


def cmd_search(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from web.serialize import plain

    try:
        node = ql.parse(args.query)
    except QueryError as exc:
        print(ql.describe_error(exc), file=sys.stderr)
        return 2

    async def work(runtime: Runtime) -> int:
        result = await runtime.search.messages(SYSTEM, node, None, args.limit,
                                               ("channel", "sentiment"))
        if args.json:
            print(json.dumps({"query": ql.to_text(node), "total": result.total,
                              "total_capped": result.total_capped, "sampled": result.sampled,
                              "messages": plain(result.messages),
                              "facets": plain(result.facets)}, ensure_ascii=False, indent=2))
            return 0
        more = "+" if result.total_capped else ""
        print(f"{result.total:,}{more} messages match {ql.to_text(node) or '(everything)'}")
        for m in result.messages:
            text = " ".join(m.text.split())
            print(f"{m.created_at:%Y-%m-%d %H:%M}  {m.channel:<7} {m.author_label or '':<24.24} "
                  f"{text[:90]}")
        return 0

    return _run(_with_runtime(_config(args, env), env, work))


def cmd_sentiment_corrections(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """The messages agents corrected, as rows of the sentiment training TSV (lang, label,
    channel, text) for bench/train_sentiment.py --also; never into the evaluation set."""
    from inbox import corrections

    out = Path(args.out) if args.out else None
    if out is not None and out.name == "sentiment_eval.tsv":
        print("error: corrections never go into the evaluation set", file=sys.stderr)
        return 2

    async def work(runtime: Runtime) -> int:
        found = [m async for m in corrections.corrected_messages(runtime.store)]
        lines = "".join(corrections.tsv_rows(found))
        if out is None:
            sys.stdout.write(lines)
        else:
            out.write_text(lines, encoding="utf-8")
        print(f"{len(found)} corrected messages", file=sys.stderr)
        return 0

    return _run(_with_runtime(_config(args, env), env, work))


def cmd_dead_letters(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    async def work(runtime: Runtime) -> int:
        rows, _ = await runtime.dead_letters.page(None, args.limit)
        for doc in rows:
            print(f"{doc['id']}  {doc.get('at', '')}  {doc.get('source', '')}  "
                  f"{doc.get('stage', 'parse')}  {doc.get('error', '')}")
        print(f"{len(rows)} dead letters (kept raw; see GET /api/dead-letters)")
        return 0

    return _run(_with_runtime(_config(args, env), env, work))


def _print_poll(name: str, result: Any, before: Mapping[str, Mapping[str, Any]],
                after: Mapping[str, Mapping[str, Any]]) -> None:
    dead = int(after.get(name, {}).get("total", 0)) - int(before.get(name, {}).get("total", 0))
    print(f"{name}: stored {len(result.stored)}, updated {len(result.updated)}, "
          f"already had {result.duplicates}, dead-lettered {dead}")
    for m in result.stored:
        print(f"  + {m.created_at:%Y-%m-%d %H:%M} {m.author_label or ''}: "
              f"{' '.join(m.text.split())[:80]}")


def cmd_poll(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    async def work(runtime: Runtime) -> int:
        channel = {"twitter": "x"}.get(args.channel, args.channel)
        if not any(c.channel == channel for c in runtime.connectors):
            print(f"no {args.channel} connector is configured; see `inbox init` for the keys",
                  file=sys.stderr)
            return 1
        if not args.once:
            await runtime.start_workers()
            await asyncio.Event().wait()
        before = await runtime.dead_letters.counts()
        failed = False
        for connector in runtime.connectors:
            if connector.channel != channel:
                continue
            try:
                result = await connector.poll_once(runtime.context_for(connector))
            except InboxError as exc:  # refused credentials, the API or the store down
                print(f"{connector.name}: error: {exc}", file=sys.stderr)
                failed = True
                continue
            except Exception as exc:  # noqa: BLE001 - a bug: one clear line, the rest go on
                log.debug("poll failed", exc_info=True, extra={"connector": connector.name})
                print(f"{connector.name}: error: unexpected {type(exc).__name__}: {exc} "
                      "(INBOX_LOG_LEVEL=DEBUG shows the traceback)", file=sys.stderr)
                failed = True
                continue
            _print_poll(connector.name, result, before, await runtime.dead_letters.counts())
        after = await runtime.dead_letters.counts()
        dead_total = deadletters.total(after) - deadletters.total(before)
        if dead_total:
            print(f"warning: {dead_total} item(s) could not be stored and were kept as dead "
                  "letters (the channel moved on); see them with `inbox dead-letters`",
                  file=sys.stderr)
        return 1 if failed else 0

    return _run(_with_runtime(_config(args, env), env, work, channels=True))  # no SMTP needed


async def migrate(src: Any, dst: Any, checkpoint_file: Path | None = None) -> int:
    """Copy src into dst with a progress bar, resumable; 0 when the counts match."""
    from inbox.migrate import copy_store

    checkpoint: dict[str, str | None] = {}
    if checkpoint_file is not None and checkpoint_file.exists():
        checkpoint = json.loads(checkpoint_file.read_text())
        print(f"resuming from {checkpoint_file}")

    def progress(kind: str, done: int, total: int) -> None:
        width = 30
        filled = width * done // total if total else width
        print(f"\r{kind:<14} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
              end="" if done < total else "\n", flush=True)
        if checkpoint_file is not None:
            checkpoint_file.write_text(json.dumps(checkpoint))

    report = await copy_store(src, dst, progress, checkpoint=checkpoint)
    for kind, (a, b) in report.items():
        print(f"{kind:<14} source {a:>8}  target {b:>8}  {'ok' if a == b else 'MISMATCH'}")
    if any(a != b for a, b in report.values()):
        print("counts differ: run the same command again to resume", file=sys.stderr)
        return 1
    if checkpoint_file is not None:
        checkpoint_file.unlink(missing_ok=True)
    print("all counts match")
    return 0


def cmd_migrate(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    configured = _config(args, env).core.store

    def store_for(url: str) -> Any:
        return cfg.make_store(replace(configured, url=url))

    if args.reindex:
        return _run(_reindex(store_for(configured.url)))
    if not (args.source and args.target):
        print("give --from and --to (or --reindex)", file=sys.stderr)
        return 2

    async def run() -> int:
        src, dst = store_for(args.source), store_for(args.target)
        await src.open()
        try:
            await dst.open()
            try:
                return await migrate(src, dst, Path(args.checkpoint))
            finally:
                await dst.aclose()
        finally:
            await src.aclose()

    return _run(run())


async def _reindex(store: Any) -> int:
    return await reindex_command(store)


def fast_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop for the server (its sockets and callbacks cost about half the CPU
    of asyncio's own), where it is installed (not on Windows); None: asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


GC_THRESHOLD = (10_000, 10, 10)  # the collector's generation thresholds; Python's: 700, 10, 10


def collect_less() -> None:
    """Set the garbage collector's thresholds (GC_THRESHOLD) for this process. Ingest makes
    dozens of containers per message, nearly all freed at once by reference counts; a young
    collection every 700 of them, and the full ones that follow, walked the process's live
    objects for nothing: 4-8% of the CPU of ingest and of an email sync. Cycles are still
    collected, a little later."""
    gc.set_threshold(*GC_THRESHOLD)


def _run(coro: Awaitable[int], loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
         ) -> int:
    collect_less()
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(coro)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        return 130


class _Parser(argparse.ArgumentParser):
    """A parser whose every command and subcommand takes the global options too, so they
    work before or after the command: `inbox --config x serve` = `inbox serve --config x`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # SUPPRESS: a subcommand without the option keeps what was given before it
        self.add_argument("--config", default=argparse.SUPPRESS,
                          help=f"TOML config file (default: INBOX_CONFIG, else ./{DEFAULT_CONFIG} "
                               "if present)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="inbox", description="Unified inbox: X, email and web forms in one "
                "searchable inbox with response-time SLAs.")
    sub = p.add_subparsers(dest="command", required=True)  # subparsers are _Parser too

    s = sub.add_parser("serve", help="run the web app, connectors and scheduler")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--role", choices=["all", "web", "worker"], default="all",
                   help="scale out: several `web` processes and one `worker` (pollers, "
                        "retries) on one Elasticsearch cluster")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("demo", help="serve a fresh store filled with a month of traffic")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--store", default="inbox-demo.db", help="SQLite file (recreated)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("init", help="write a commented inbox.toml")
    s.add_argument("--path", help=f"where to write it (default: --config, else ./{DEFAULT_CONFIG})")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_init)

    users = sub.add_parser("users", help="manage users").add_subparsers(dest="users",
                                                                        required=True)
    s = users.add_parser("add", help="create or update a user (password from stdin)")
    s.add_argument("email")
    s.add_argument("--role", required=True, choices=[r.value for r in Role])
    s.add_argument("--name")
    s.set_defaults(func=cmd_users_add)
    s = users.add_parser("token", help="print a new API token for a user (shown once)")
    s.add_argument("email")
    s.add_argument("--days", type=int, help="expire after this many days (default: the "
                   "auth.token_days setting, else never)")
    s.add_argument("--label", help="what the token is for")
    s.set_defaults(func=cmd_users_token)
    s = users.add_parser("list", help="list users: role, state, last sign-in")
    s.set_defaults(func=cmd_users_list)
    for name, func, text in (
            ("passwd", cmd_users_passwd, "set a new password (from stdin); revokes the "
             "user's sessions and tokens"),
            ("disable", cmd_users_disable, "stop a user signing in; revokes their sessions "
             "and tokens"),
            ("enable", cmd_users_enable, "let a disabled user sign in again"),
            ("remove", cmd_users_remove, "delete a user and their tokens")):
        s = users.add_parser(name, help=text)
        s.add_argument("email")
        s.set_defaults(func=func)

    tokens = sub.add_parser("tokens", help="list and revoke API tokens").add_subparsers(
        dest="tokens", required=True)
    s = tokens.add_parser("list", help="tokens with their public id and expiry")
    s.add_argument("email", nargs="?")
    s.set_defaults(func=cmd_tokens_list)
    s = tokens.add_parser("revoke", help="revoke a token by its public id")
    s.add_argument("id")
    s.set_defaults(func=cmd_tokens_revoke)

    s = sub.add_parser("search", help="search messages with the search language")
    s.add_argument("query")
    s.add_argument("--json", action="store_true")
    s.add_argument("--limit", type=int, default=20)
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("poll", help="poll a channel's connectors")
    s.add_argument("--channel", required=True, choices=["email", "x", "twitter"])
    s.add_argument("--once", action="store_true", help="poll once and exit")
    s.set_defaults(func=cmd_poll)

    s = sub.add_parser("sentiment-corrections",
                       help="export the messages agents corrected as training TSV rows")
    s.add_argument("--tsv", action="store_true",
                   help="lang, label, channel, text (the only format; the default)")
    s.add_argument("--out", help="write to this file instead of standard output")
    s.set_defaults(func=cmd_sentiment_corrections)

    s = sub.add_parser("dead-letters", help="list what could not be parsed (kept raw)")
    s.add_argument("--limit", type=int, default=100)
    s.set_defaults(func=cmd_dead_letters)

    s = sub.add_parser("migrate", help="copy a whole store to another (e.g. SQLite to ES), "
                       "or --reindex the configured Elasticsearch store after a mapping change")
    s.add_argument("--from", dest="source")
    s.add_argument("--to", dest="target")
    s.add_argument("--reindex", action="store_true",
                   help="new indices with the current mappings and settings, then swap the "
                   "aliases (while the service runs)")
    s.add_argument("--checkpoint", default=".inbox-migrate.json",
                   help="progress file to resume an interrupted copy")
    s.set_defaults(func=cmd_migrate)

    add_commands(sub, _store_command)
    return p


def _store_command(work: Work) -> Callable[[argparse.Namespace, Mapping[str, str]], int]:
    """A command running `work` on the configured store's settings."""
    def command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
        return _run(work(_config(args, env).core.store, args))
    return command


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("INBOX_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return int(args.func(args, dict(os.environ) if env is None else env))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except InboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
