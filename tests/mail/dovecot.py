"""A real Dovecot IMAP server for the tests, started by the fixture itself: its own config in
a temporary directory (passwd-file authentication, maildir), on 127.0.0.1 and a free port."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
{unprivileged}service imap-login {{
{login_chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@dataclass
class Dovecot:
    host: str
    port: int
    user: str
    password: str
    root: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            return s.recv(100).startswith(b"* OK")
    except OSError:
        return False


def _mail_owner() -> tuple[int, int]:
    """Whose files the mail is: ours, or nobody's when we are root (Dovecot refuses uid 0)."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def _unprivileged() -> str:
    """Settings for running Dovecot as an ordinary user (CI without root): its helper
    processes run as that user instead of dovecot/dovenull."""
    if os.getuid() == 0:
        return ""
    import grp

    name = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    return (
        f"default_internal_user = {name}\ndefault_internal_group = {group}\n"
        f"default_login_user = {name}\n"
        "service anvil {\n  chroot =\n}\n"
    )


def start(user: str = "desk", password: str = "imap-test") -> Dovecot:  # noqa: S107
    """Start Dovecot; retries with another port when the chosen one was taken meanwhile."""
    last_log = ""
    for _attempt in range(3):
        root = Path(tempfile.mkdtemp(prefix="dovecot-"))
        root.chmod(0o755)  # the login processes run as dovenull and must reach run/
        uid, gid = _mail_owner()
        for sub in ("run", "state", "mail", "home"):
            (root / sub).mkdir()
        for sub in ("mail", "home"):
            if (uid, gid) != (os.getuid(), os.getgid()):
                os.chown(root / sub, uid, gid)
        (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}\n")
        port = _free_port()
        conf = root / "dovecot.conf"
        conf.write_text(
            CONFIG.format(
                root=root,
                port=port,
                uid=uid,
                gid=gid,
                unprivileged=_unprivileged(),
                # chroot needs root: an ordinary user's login process stays where it is.
                login_chroot="" if os.getuid() == 0 else "  chroot =\n",
            )
        )
        process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(100):
            if process.poll() is not None:
                break
            if _listening(port):
                return Dovecot("127.0.0.1", port, user, password, root, process)
            time.sleep(0.1)
        process.kill()
        process.wait(timeout=10)
        log = root / "dovecot.log"
        last_log = (log.read_text() if log.exists() else "") + (
            process.stderr.read().decode() if process.stderr else ""
        )
        shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"Dovecot did not start: {last_log[-2000:]}")
