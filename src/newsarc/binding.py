"""Binding an archive directory to an OpenSearch cluster: where it is, and how to log in.

A bound directory holds ``engine.json`` (``{"engine": "opensearch", …}``: the
cluster's URL without credentials, the index, the CA file, the user name; the
file that names an archive's engine) and, only when asked to
keep it, ``opensearch.secret`` (the password, mode 0600).  The environment
overrides both: ``$NEWSARC_OPENSEARCH_URL`` (which may carry
``user:password@``) and ``$NEWSARC_OPENSEARCH_PASSWORD``.  Kept apart from
:mod:`newsarc.opensearch` so that telling the engines apart costs no imports.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from newsarc.errors import ArchiveError, NewsarcError

DEFAULT_INDEX = "newsarc"
CONFIG_NAME = "engine.json"
#: The engine name in ``engine.json``.
ENGINE_NAME = "opensearch"
SECRET_NAME = "opensearch.secret"
URL_ENV = "NEWSARC_OPENSEARCH_URL"
PASSWORD_ENV = "NEWSARC_OPENSEARCH_PASSWORD"


@dataclass
class ClusterConfig:
    """Where an archive's cluster is: URL(s) without credentials, index, CA file, user."""

    url: str
    index: str = DEFAULT_INDEX
    ca_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def hosts(self) -> list[str]:
        """The node URLs (``url`` may list several, comma-separated)."""
        return [u.strip() for u in self.url.split(",") if u.strip()]


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``(url without user:password, user, password)`` of one URL or a comma-separated list."""
    user = password = None
    clean = []
    for part in (u.strip() for u in url.split(",") if u.strip()):
        parts = urlsplit(part)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NewsarcError(f"not an http(s) URL of a cluster: {_redact(part)!r}")
        if parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        clean.append(urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")))
    if not clean:
        raise NewsarcError("no cluster URL given")
    return ",".join(clean), user, password


def _redact(url: str) -> str:
    return re.sub(r"//[^/@]*@", "//***@", url)


def is_bound(data_dir: str | Path) -> bool:
    """Whether the archive directory is bound to a cluster (its ``engine.json`` names ``opensearch``)."""
    path = Path(data_dir) / CONFIG_NAME
    try:
        return path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("engine") == ENGINE_NAME
    except (OSError, ValueError, AttributeError):
        return False


def config_from_settings(data_dir: str | Path, settings: dict) -> ClusterConfig:
    """The binding from ``engine.json``'s settings, completed by the password file and the environment.

    ``$NEWSARC_OPENSEARCH_URL`` (with credentials, if any) overrides the URL.
    """
    try:
        config = ClusterConfig(
            url=str(settings["url"]), index=str(settings["index"]), ca_file=settings.get("ca_file"),
            username=settings.get("username"),
        )
    except (KeyError, TypeError) as exc:
        raise ArchiveError(f"{Path(data_dir) / CONFIG_NAME}: not a usable cluster binding (no {exc})") from None
    secret = Path(data_dir) / SECRET_NAME
    if secret.is_file():
        config.password = secret.read_text(encoding="utf-8").rstrip("\n")
    env_url = os.environ.get(URL_ENV, "").strip()
    if env_url:
        config.url, user, password = split_credentials(env_url)
        if user is not None:
            config.username, config.password = user, password
    if os.environ.get(PASSWORD_ENV):
        config.password = os.environ[PASSWORD_ENV]
    return config


def load_config(data_dir: str | Path) -> ClusterConfig:
    """The binding of ``data_dir`` (see :func:`config_from_settings`)."""
    path = Path(data_dir) / CONFIG_NAME
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{path}: not a readable cluster binding ({exc})") from None
    return config_from_settings(data_dir, settings if isinstance(settings, dict) else {})


def save_config(data_dir: str | Path, config: ClusterConfig, *, keep_password: bool) -> None:
    """Write the binding; the password only with ``keep_password``, into a file only its owner can read."""
    data = Path(data_dir)
    body = {"engine": ENGINE_NAME, "url": config.url, "index": config.index, "ca_file": config.ca_file,
            "username": config.username}
    (data / CONFIG_NAME).write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    secret = data / SECRET_NAME
    if keep_password and config.password:
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(config.password + "\n")
    elif secret.exists():
        secret.unlink()
