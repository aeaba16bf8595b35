"""newsarc: archive and search Chinese-language news."""

import sys
import types


def _import_whoosh_compat() -> None:
    """Import ``whoosh.compat`` without making it import ``urllib.request``.

    Whoosh 2.7's ``compat`` module, which every part of Whoosh imports, imports
    ``urllib.request`` — http.client, email, ssl: about 20 ms of every command
    that opens an index — only to re-export ``urlretrieve``, which no part of
    Whoosh newsarc uses calls.  While ``compat`` is imported a stand-in module
    is in its place, whose ``urlretrieve`` imports the real one when called; it
    is removed right after, so any later ``import urllib.request`` is the real
    one.  Runs once, when the package is imported (before newsarc starts any
    thread), and only when neither module is loaded yet.
    """
    if "whoosh.compat" in sys.modules or "urllib.request" in sys.modules:
        return

    def urlretrieve(*args, **kwargs):  # type: ignore[no-untyped-def]
        from urllib.request import urlretrieve as real

        return real(*args, **kwargs)

    stand_in = types.ModuleType("urllib.request")
    stand_in.urlretrieve = urlretrieve  # type: ignore[attr-defined]
    sys.modules["urllib.request"] = stand_in
    try:
        import whoosh.compat  # noqa: F401
    except ImportError:  # reported where Whoosh is used
        pass
    finally:
        if sys.modules.get("urllib.request") is stand_in:
            del sys.modules["urllib.request"]


_import_whoosh_compat()
