"""Settings declared once: loading, errors that name the key, secrets kept out of sight, the
generated template and README table, and global CLI options on either side of the command."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from connectors.email import SmtpMissing, configure
from connectors.twitter_config import load_settings
from connectors.webform import FormSpec, forms_from_config
from inbox import config as cfg
from inbox.app.cli import config_template, main, parser
from inbox.app.config import declared_settings
from inbox.app.config import load as load_config
from inbox.errors import ConfigError
from inbox.settings import Setting, check_keys, markdown_table, toml_value
from inbox.sla import SlaPolicy
from tests.factories import CHEAP_ARGON2

README = Path(__file__).parents[2] / "README.md"
DEFAULTS = cfg.core_settings({})


# --- loading --------------------------------------------------------------------------------

def test_defaults_are_typed() -> None:
    core = load_config(None, {}).core
    assert core == DEFAULTS
    assert core.store.url == "sqlite:///./inbox.db" and core.web.port == 8080
    assert core.web.trust_proxy is False and core.enrich.enabled is True
    assert core.forms.rate_window == 60.0 and core.auth.token_days is None
    assert core.sla == SlaPolicy()


def test_the_environment_wins_over_the_file_and_is_typed(tmp_path: Path) -> None:
    path = tmp_path / "inbox.toml"
    path.write_text('[web]\nport = 9000\nhost = "0.0.0.0"\n[auth]\ntoken_days = 30\n'
                    '[sla]\ntimezone = "Europe/London"\n[sla.targets]\nemail = "2h"\n')
    core = load_config(path, {"INBOX_PORT": "9100", "INBOX_TRUST_PROXY": "yes",
                           "INBOX_TIMEZONE": "Europe/Paris", "INBOX_ENRICH": "off",
                           "INBOX_HOST": "  "}).core  # a blank variable overrides nothing
    assert (core.web.host, core.web.port, core.web.trust_proxy) == ("0.0.0.0", 9100, True)
    assert core.enrich.enabled is False and core.auth.token_days == 30
    assert core.sla.calendar.timezone == "Europe/Paris"
    assert core.sla.targets["email"].duration.total_seconds() == 2 * 3600
    assert core.sla.targets["x"] == SlaPolicy().targets["x"]  # channels not listed keep theirs


def test_loaded_config_still_answers_get() -> None:
    config = load_config(None, {"INBOX_FORM_RATE_LIMIT": "7"})
    assert config.core.forms.rate_limit == 7
    assert config.core.web.public_url is None


@pytest.mark.parametrize(("toml", "env", "key", "words"), [
    ('[web]\nport = "eighty"\n', {}, "web.port", "'eighty' is not a whole number"),
    ('[web]\nport = 70000\n', {}, "web.port", "not a TCP port"),
    ("", {"INBOX_PORT": "eighty"}, "web.port", "set by INBOX_PORT"),
    ("", {"INBOX_ENRICH": "perhaps"}, "enrich.enabled", "true/false"),
    ('[auth]\ntoken_days = 0\n', {}, "auth.token_days", "from 1 to 3650"),
    ("", {"INBOX_TOKEN_DAYS": "99999999"}, "auth.token_days", "from 1 to 3650"),
    ("", {"INBOX_ARGON2_MEMORY_KIB": "16", "INBOX_ARGON2_PARALLELISM": "4"},
     "auth.argon2_memory_kib", "8 KiB per lane"),
    ('[sla]\ntimezone = "Mars/Olympus"\n', {}, "sla.timezone", "IANA"),
    ('[sla]\nholidays = ["christmas"]\n', {}, "sla.holidays", "2026-12-24"),
    ('[sla]\nat_risk = 3\n', {}, "sla.at_risk", "between 0 and 1"),
    ('[sla]\ntargets = "8h"\n', {}, "sla.targets", "must be a table"),
    ('web = 5\n', {}, "web", "must be a table"),
])
def test_errors_name_the_key_and_the_fix(tmp_path: Path, toml: str, env: dict[str, str],
                                         key: str, words: str) -> None:
    path = tmp_path / "inbox.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env)
    assert caught.value.key == key and words in str(caught.value)


@pytest.mark.parametrize(("data", "key", "words"), [
    ({"web": {"prot": 8080}}, "web.prot", "did you mean port?"),
    ({"emial": {}}, "emial", "did you mean email?"),
    ({"forms": {"rate_limt": 5}}, "forms.rate_limt", "did you mean rate_limit?"),
    ({"forms": {"contact": {"titel": "Hi"}}}, "forms.contact.titel", "did you mean title?"),
    ({"email": {"mailboxes": [{"url": "imaps://u@h"}, {"smtp_ulr": "x"}]}},
     "email.mailboxes[1].smtp_ulr", "did you mean smtp_url?"),
    ({"email": {"mailboxes": {"url": "imaps://u@h"}}}, "email.mailboxes",
     "[[email.mailboxes]]"),
])
def test_unknown_keys_are_named(data: dict[str, object], key: str, words: str) -> None:
    check_keys({"sla": {"targets": {"sms": "2h"}, "hours": {"sat": []}}, "forms": {
        "returns": {"title": "Returns"}}}, declared_settings())  # tables of any name
    with pytest.raises(ConfigError) as caught:
        check_keys(data, declared_settings())
    assert caught.value.key == key and words in str(caught.value)


def test_secrets_stay_out_of_errors_and_reprs() -> None:
    env = {"INBOX_STORE_PASSWORD": "hunter2-store", "INBOX_STORE_USERNAME": "es",
           "INBOX_STORE_API_KEY": "key-hunter2"}
    config = load_config(None, env)
    shown = repr(config) + repr(config.core) + str(config.core)
    assert "hunter2" not in shown and config.core.store.password == "hunter2-store"
    token = Setting("x.token", int, None, "a secret number", secret=True)
    with pytest.raises(ConfigError) as caught:
        token.read({"token": "hunter2"}, {})
    assert "hunter2" not in str(caught.value) and caught.value.key == "x.token"
    x = load_settings({"x": {"user_id": "1"}}, {"INBOX_X_BEARER_TOKEN": "hunter2-x",
                                                "INBOX_X_USER_TOKEN": "hunter2-user"})
    assert x is not None and "hunter2" not in repr(x)


def test_section_types_are_the_declarations() -> None:
    for name, kind in cfg.SECTION_TYPES.items():
        declared = [s.name for s in cfg.SECTIONS[name]]
        assert [f.name for f in dataclasses.fields(kind)] == declared, name
        secret = {s.name for s in cfg.SECTIONS[name] if s.secret}
        assert secret == {f.name for f in dataclasses.fields(kind) if not f.repr}, name


def test_declarations_are_complete_and_distinct() -> None:
    settings = declared_settings()
    keys = [s.key for s in settings]
    envs = [s.env for s in settings if s.env]
    assert len(set(keys)) == len(keys) and len(set(envs)) == len(envs)
    for s in settings:
        assert not s.env or s.env.startswith("INBOX_"), s.key
        assert s.help and (s.secret or s.default not in (None, ()) or s.example is not None
                           or s.type is bool), f"{s.key}: the template needs a value to show"
        if s.default is not None:  # the default survives the trip through TOML
            raw = tomllib.loads(f"v = {toml_value(s.default)}")["v"]
            assert s.convert(raw) == s.default, s.key


# --- the generated template and README table -------------------------------------------------

def uncomment_defaults(text: str) -> str:
    """The template with every core default uncommented, as someone editing it would."""
    out, table, block = [], "", False
    for line in text.splitlines():
        if header := re.fullmatch(r"\[(\w+)\]", line):
            table, block = header[1], False
        elif sub := re.fullmatch(r"# \[([\w.]+)\]", line):
            block = sub[1] in cfg.BY_KEY
            out.append(line[2:] if block else line)
            continue
        elif not line:
            block = False
        elif entry := re.fullmatch(r"# (\w+) = .*", line):
            setting = cfg.BY_KEY.get(f"{table}.{entry[1]}")
            if block or (setting is not None and setting.default not in (None, ())):
                line = line[2:]
        out.append(line)
    return "\n".join(out)


def test_the_template_parses_back_to_the_defaults() -> None:
    text = config_template()
    data = tomllib.loads(text)
    check_keys(data, declared_settings())
    assert cfg.core_settings(data) == DEFAULTS
    assert configure(data, {}) == ([], []) and load_settings(data, {}) is None
    assert forms_from_config(data) == {"contact": FormSpec("contact")}
    edited = tomllib.loads(uncomment_defaults(text))
    assert edited["web"]["port"] == 8080 and edited["sla"]["targets"]["x"] == "1h"
    assert cfg.core_settings(edited) == DEFAULTS
    for s in declared_settings():  # every setting is shown, with its help
        assert f"# {s.name} = " in text or f"# [{s.key}]" in text, s.key
        assert s.help.split()[0] in text


def test_readme_settings_table_is_the_declarations() -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0]
    assert block.strip() == markdown_table(declared_settings())


# --- channels ask only for what they use ----------------------------------------------------

IMAP_ONLY = {"INBOX_EMAIL_URL": "imaps://support%40example.com@127.0.0.1/INBOX",
             "INBOX_EMAIL_PASSWORD": "imap-pass"}


def test_receiving_mail_reads_no_smtp_setting() -> None:
    half_smtp = {**IMAP_ONLY, "INBOX_SMTP_URL": "smtp://mailer@relay.example:587"}
    (connector,), senders = configure({}, half_smtp, send=False)
    assert connector.name == "email:default" and senders == []
    with pytest.raises(ConfigError) as caught:  # replying needs the SMTP account complete
        configure({}, half_smtp)
    assert caught.value.key == "INBOX_SMTP_PASSWORD"


def test_replies_without_an_smtp_account_say_what_to_set() -> None:
    (_,), (sender,) = configure({}, IMAP_ONLY)
    assert isinstance(sender, SmtpMissing) and sender.channel == "email"
    assert "INBOX_SMTP_URL" in sender.why and "smtp_url" in sender.why


# --- the command line -----------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["--config", "a.toml", "serve"], ["serve", "--config", "a.toml"],
    ["serve", "--port", "1", "--config", "a.toml"], ["users", "list", "--config", "a.toml"],
    ["users", "--config", "a.toml", "list"], ["--config", "b.toml", "poll", "--channel", "x",
                                               "--config", "a.toml"],
])
def test_global_options_go_before_or_after_the_command(argv: list[str]) -> None:
    assert parser().parse_args(argv).config == "a.toml"


def test_config_after_the_command_is_used(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "inbox.toml"
    db = tmp_path / "configured.db"
    path.write_text(f'[store]\nurl = "sqlite:///{db}"\n[enrich]\nenabled = false\n')
    assert main(["search", "anything", "--config", str(path)], CHEAP_ARGON2) == 0
    assert "0 messages" in capsys.readouterr().out and db.exists()
    path.write_text('[web]\nprot = 1\n')
    assert main(["users", "list", "--config", str(path)], CHEAP_ARGON2) == 2
    assert "web.prot" in capsys.readouterr().err


def test_init_writes_where_config_points(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "site.toml"
    assert main(["init", "--config", str(path)], {}) == 0
    assert path.read_text() == config_template()
    assert f"inbox serve --config {path}" in capsys.readouterr().out
