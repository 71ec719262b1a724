"""Logins for the page: ``--auth USER:PASSWORD`` and ``--auth-file FILE``, checked by Gradio's login form.

An auth file has one ``user:password`` per line; blank lines and lines starting with ``#`` are skipped. A password
may be given hashed, as ``python transcribe_ui.py --hash-password`` prints it
(``pbkdf2_sha256$<iterations>$<salt>$<hash>``, PBKDF2-HMAC-SHA256), so the file need not hold it in clear. Every
comparison takes the same time whether the user exists or not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from transcriber.errors import TranscriberError

HASH_SCHEME = "pbkdf2_sha256"
HASH_ITERATIONS = 600_000
"""OWASP's 2023 figure for PBKDF2-HMAC-SHA256."""
SALT_BYTES = 16
LOOPBACK_NAMES = {"localhost"}
EXPOSED_WARNING = (
    "The app listens on {host} without logins: anyone who can reach this computer on the network can read, export "
    "and delete every transcript in the library. Add --auth USER:PASSWORD or --auth-file FILE."
)
SHARED_WARNING = (
    "The app has a public link (--share) without logins: anyone who has the link can read, export and delete every "
    "transcript in the library. Add --auth USER:PASSWORD or --auth-file FILE."
)


class AuthConfigError(TranscriberError):
    """A login given on the command line or in an auth file is not ``user:password``."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, iterations: int = HASH_ITERATIONS, salt: bytes | None = None) -> str:
    """A hashed password for an auth file: ``pbkdf2_sha256$<iterations>$<salt>$<hash>``."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def password_matches(stored: str, given: str) -> bool:
    """Whether ``given`` is the password ``stored`` describes (hashed as :func:`hash_password` writes, or clear)."""
    parts = stored.split("$")
    if len(parts) == 4 and parts[0] == HASH_SCHEME and parts[1].isdigit():
        try:
            salt, expected = base64.b64decode(parts[2], validate=True), base64.b64decode(parts[3], validate=True)
        except ValueError:
            return False
        digest = hashlib.pbkdf2_hmac("sha256", given.encode("utf-8"), salt, int(parts[1]))
        return hmac.compare_digest(digest, expected)
    return hmac.compare_digest(stored.encode("utf-8"), given.encode("utf-8"))


def parse_login(text: str, *, where: str = "--auth") -> tuple[str, str]:
    """``user:password`` as a pair (the password may contain ``:``).

    Raises:
        AuthConfigError: No ``:``, or an empty user or password.
    """
    user, separator, password = text.partition(":")
    if not separator or not user.strip() or not password:
        raise AuthConfigError(f"{where}: expected user:password, got {text!r}.")
    return user.strip(), password


def read_auth_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The logins of an auth file, by user.

    Raises:
        AuthConfigError: The file cannot be read or a line is not ``user:password``.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AuthConfigError(f"{path}: cannot read the auth file ({exc.strerror or exc}).") from exc
    except UnicodeDecodeError as exc:
        raise AuthConfigError(f"{path}: not an auth file: it is not text (UTF-8 lines of user:password).") from exc
    logins = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            user, password = parse_login(line, where=f"{path.name} line {number}")
            logins[user] = password
    return logins


def collect_logins(auth: Iterable[str] = (), auth_file: str | None = None) -> dict[str, str]:
    """Every login from ``--auth`` values and an ``--auth-file``; a user given twice keeps the last password."""
    logins = read_auth_file(auth_file) if auth_file else {}
    logins.update(parse_login(text) for text in auth)
    return logins


def checker(logins: dict[str, str]):
    """Gradio's ``auth`` callable for ``logins``."""
    decoy = hash_password(secrets.token_hex(8), iterations=HASH_ITERATIONS)

    def check(user: str, password: str) -> bool:
        stored = logins.get(user)
        # An unknown user costs as much as a known one, so timing does not tell which users exist.
        return password_matches(decoy if stored is None else stored, password) and stored is not None

    return check


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this computer only."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, logins: bool, *, share: bool = False) -> str:
    """The warning for a page open to the network (or, with ``share``, to anyone with its public link) without
    logins, or ``""``."""
    if logins:
        return ""
    if share:
        return SHARED_WARNING
    return "" if is_loopback(host) else EXPOSED_WARNING.format(host=host)
