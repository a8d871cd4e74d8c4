"""Loading the configuration and building the adapters it names (the composition root).

`load(path, env)` reads inbox.toml and applies the environment (which wins); the result is a
`Config`: the file's tables with the core's values typed, and `.core`, the frozen typed
`CoreSettings` (inbox.config) that code reads. `declared_settings()` is every setting, the
core's and each channel's; `make_store` and `configure_channels` build the adapters.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inbox import config as cfg
from inbox.config import StoreSettings
from inbox.errors import ConfigError
from inbox.model import Channel
from inbox.ports import Connector, Sender
from inbox.settings import Setting, read_table, table_at
from inbox.store import Store

CHANNEL_MODULES = ("connectors.email", "connectors.twitter")


class Config(dict[str, Any]):
    """inbox.toml's tables with the environment applied and the core's values typed.

    `.core` holds the typed settings; the dict serves the channels' tables. Its repr shows
    no values (secrets live in it).
    """

    core: cfg.CoreSettings

    def __repr__(self) -> str:
        return f"Config({', '.join(self)})"


def resolve(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Config:
    """The file's tables, with every core value typed and the environment applied."""
    core = cfg.core_settings(data, env)  # checks everything, naming the key of the first error
    config = Config(data)
    for name, settings in cfg.SECTIONS.items():
        config[name] = {**table_at(data, name), **read_table(settings, table_at(data, name),
                                                             env or {})}
    config.core = core
    return config


def read_file(path: str | Path | None) -> dict[str, Any]:
    """The TOML file's tables ({} without a file)."""
    if path is None:
        return {}
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("--config", f"no such file {path}; run `inbox init` to write "
                                      "one") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from exc


def load(path: str | Path | None, env: Mapping[str, str]) -> Config:
    """The configuration: the file (if any), the environment overrides, the defaults."""
    return resolve(read_file(path), env)


def make_store(settings: StoreSettings) -> Store:
    """The Store adapter the URL names."""
    url = settings.url
    if url.startswith("sqlite:///"):
        from search.sqlite import SqliteStore

        return SqliteStore.from_url(url)
    if url.startswith(("http://", "https://")):
        from search.elastic import ElasticStore

        user = settings.username
        return ElasticStore(url, api_key=settings.api_key,
                            basic_auth=(user, settings.password or "") if user else None,
                            ca_certs=settings.ca_certs, index_prefix=settings.index_prefix,
                            shards=settings.shards, replicas=settings.replicas)
    raise ConfigError("store.url", f"'{url}' is not a store URL; use sqlite:///path/to/inbox.db "
                      "or http(s)://host:9200 (INBOX_STORE)")


def declared_settings() -> tuple[Setting, ...]:
    """Every setting: the core's, the web forms' and each channel's, in template order."""
    modules = ("connectors.webform", *CHANNEL_MODULES)
    found: tuple[Setting, ...] = cfg.SETTINGS
    for name in modules:
        found += tuple(importlib.import_module(name).SETTINGS)
    return found


def configure_channels(config: Mapping[str, Any], env: Mapping[str, str], *,
                       receive: bool = True, send: bool = True
                       ) -> tuple[list[Connector], dict[Channel, Sender]]:
    """Connectors (receive) and reply senders (send) of every configured channel.

    A channel reads only the settings of what is asked: polling needs no SMTP account.
    """
    connectors: list[Connector] = []
    senders: dict[Channel, Sender] = {}
    for name in CHANNEL_MODULES:
        module = importlib.import_module(name)
        found, outs = module.configure(config, env, receive=receive, send=send)
        connectors.extend(found)
        for sender in outs:
            senders.setdefault(sender.channel, sender)
    if Channel.EMAIL in senders:
        # web-form customers are answered by mail
        senders.setdefault(Channel.WEBFORM, senders[Channel.EMAIL])
    return connectors, senders
