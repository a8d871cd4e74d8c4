"""A private Dovecot IMAP server on 127.0.0.1 for tests: start, append mail, break it, stop.

Register the ``dovecot`` fixture in a conftest with
``from tests.servers.dovecot import dovecot_fixture  # noqa: F401``, or use :class:`Dovecot`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.servers import unavailable

USER = "support@example.test"
PASSWORD = "s3cret-test-pass"  # a throwaway test credential

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
{ssl_settings}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
maildir_very_dirty_syncs = yes
auth_failure_delay = 0
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
  default_fields = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
{imaps_ssl}  }}
}}
service anvil {{
  chroot =
}}
"""



@dataclass(frozen=True)
class ServerTls:
    """PEM files for a TLS server: its certificate chain (leaf first), key, and signing CA."""

    cert_file: Path
    key_file: Path
    ca_file: Path

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only ca_file."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def dovecot_binary() -> str | None:
    """Path of the dovecot binary, or None when it is not installed."""
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.path.exists(p)), None
    )


def require_dovecot() -> str:
    """The dovecot binary; skip the test without it (fail on CI, where it must exist)."""
    binary = dovecot_binary()
    if binary is None:
        unavailable("dovecot is not installed (apt-get install dovecot-imapd)")
    return binary


def _descendants(pid: int) -> list[int]:
    """Pids of every process below pid (from /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    """One Dovecot instance in its own temp dir, listening on 127.0.0.1:port.

    With ``tls`` it requires TLS before login: STARTTLS on ``port``, implicit TLS (imaps) on
    ``imaps_port``. Without it (the default) there is no TLS at all and ``imaps_port`` is 0.
    """

    def __init__(self, binary: str, mail_user: str = "mail", tls: ServerTls | None = None
                 ) -> None:
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls = tls
        self.imaps_port = free_port() if tls else 0
        account = pwd.getpwnam(mail_user)
        self.uid, self.gid = account.pw_uid, account.pw_gid
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-test-"))
        self.root.chmod(0o755)  # mail processes run as `mail` and must reach the Maildirs
        (self.root / "mail").mkdir()
        os.chown(self.root / "mail", self.uid, self.gid)
        self.conf = self.root / "dovecot.conf"
        self.users: dict[str, str] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.add_user(USER, PASSWORD)
        if tls:
            ssl_settings = (f"ssl = required\nssl_cert = <{tls.cert_file}\n"
                            f"ssl_key = <{tls.key_file}")
            imaps_ssl = "    ssl = yes\n"
        else:
            ssl_settings, imaps_ssl = "ssl = no", ""
        self.conf.write_text(CONFIG.format(
            root=self.root, uid=self.uid, gid=self.gid, port=self.port,
            imaps_port=self.imaps_port, ssl_settings=ssl_settings, imaps_ssl=imaps_ssl))

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> None:
        """Start `dovecot -F` and wait until it greets on the IMAP port."""
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.communicate()[1].decode(errors="replace")
                self.process = None
                raise RuntimeError(f"dovecot exited at start: {err}\n{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def stop(self) -> None:
        """Stop the server and every process it started: open IMAP sessions die too."""
        if self.process is None:
            return
        children = _descendants(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None
        for pid in children:  # running imap processes outlive the master: end them too
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _ in range(100):  # until the port is free again
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    pass
            except OSError:
                return
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logins(self) -> list[str]:
        """The log lines of successful logins; a session that used TLS has ", TLS," in its."""
        return [line for line in self.log().splitlines() if "imap-login: Info: Login:" in line]

    # --- accounts and mail -----------------------------------------------------------------

    def add_user(self, user: str, password: str) -> None:
        """Add an account (Dovecot re-reads the passwd-file when it changes)."""
        self.users[user] = password
        lines = [f"{u}:{{PLAIN}}{p}:{self.uid}:{self.gid}::{self.root}/mail/{u}::\n"
                 for u, p in self.users.items()]
        (self.root / "passwd").write_text("".join(lines))

    def url(self, user: str = USER, folder: str = "INBOX", scheme: str = "imap") -> str:
        """An imap://, imaps:// or imap+starttls:// URL for the connector config."""
        port = self.imaps_port if scheme == "imaps" else self.port
        return f"{scheme}://{user.replace('@', '%40')}@{self.host}:{port}/{folder}"

    def client(self, user: str = USER) -> IMAPClient:
        """A logged-in session for test set-up (after STARTTLS when the server has TLS)."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            if self.tls:
                client.starttls(self.tls.client_context())
            client.login(user, self.users[user])
        except BaseException:
            client.shutdown()
            raise
        return client

    def append(self, raw: bytes | list[bytes], folder: str = "INBOX", user: str = USER,
               flags: tuple[bytes, ...] = ()) -> None:
        """APPEND one or more raw messages (the folder is created if missing)."""
        items = [raw] if isinstance(raw, bytes) else raw
        with self.client(user) as c:
            try:
                if not c.folder_exists(folder):
                    c.create_folder(folder)
                for item in items:
                    c.append(folder, item, flags=flags, msg_time=datetime.now().astimezone())
            finally:
                c.logout()

    def uids(self, folder: str = "INBOX", user: str = USER) -> tuple[int, list[int]]:
        """(UIDVALIDITY, UIDs) of a folder."""
        with self.client(user) as c:
            try:
                info = c.select_folder(folder, readonly=True)
                return int(info[b"UIDVALIDITY"]), sorted(c.search("ALL"))
            finally:
                c.logout()

    def flags(self, folder: str = "INBOX", user: str = USER) -> dict[int, tuple[bytes, ...]]:
        with self.client(user) as c:
            try:
                c.select_folder(folder, readonly=True)
                uids = c.search("ALL")
                return {uid: d[b"FLAGS"] for uid, d in c.fetch(uids, ["FLAGS"]).items()}
            finally:
                c.logout()

    def reset_uidvalidity(self, folder: str = "INBOX", user: str = USER) -> None:
        """Make the server renumber a folder with a new UIDVALIDITY (drops its uidlist/index)."""
        self.stop()
        maildir = self.root / "mail" / user / "Maildir"
        box = maildir if folder == "INBOX" else maildir / f".{folder}"
        for path in box.glob("dovecot*"):
            if path.is_file():
                path.unlink()
        self.start()

    def kick(self, user: str = USER) -> None:
        """Disconnect every IMAP session of a user, the server keeps running."""
        doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        subprocess.run(
            [doveadm, "-c", str(self.conf), "kick", user],
            check=True, capture_output=True, timeout=10,
        )


@pytest.fixture(name="dovecot")
def dovecot_fixture() -> Iterator[Dovecot]:
    """A running Dovecot with the account USER/PASSWORD, removed after the test."""
    server = Dovecot(require_dovecot())
    try:
        server.start()
        yield server
    finally:
        server.cleanup()
