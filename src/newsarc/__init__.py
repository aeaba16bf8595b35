"""newsarc: archive and search Chinese-language news."""

import sys
import types
from importlib.machinery import ModuleSpec, PathFinder
from typing import Any


class _CompatWithoutUrllib:
    """Imports ``whoosh.compat`` without letting it import ``urllib.request``.

    Whoosh 2.7's ``compat`` module, which every part of Whoosh imports, imports
    ``urllib.request`` — http.client, email, ssl: about 20 ms of every command
    that opens an index — only to re-export ``urlretrieve``, which no part of
    Whoosh newsarc uses calls.  When (and only when) ``whoosh.compat`` is first
    imported, this finder hands it a loader that runs it with a stand-in in
    ``urllib.request``'s place, whose ``urlretrieve`` imports the real one when
    called; the stand-in is removed right after, so any later ``import
    urllib.request`` is the real module.  The finder removes itself on first use,
    so a command that never opens an index (``show``, ``stats``) pays nothing (nor
    for ``importlib.abc``, whose import costs more than this saves: the finder and
    loader protocols are met by the methods alone).
    """

    def __init__(self) -> None:
        self._loader: Any = None

    def find_spec(self, fullname, path, target=None) -> ModuleSpec | None:  # type: ignore[no-untyped-def]
        if fullname != "whoosh.compat":
            return None
        sys.meta_path.remove(self)
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or "urllib.request" in sys.modules:
            return spec
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        assert self._loader is not None
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        assert self._loader is not None

        def urlretrieve(*args, **kwargs):  # type: ignore[no-untyped-def]
            from urllib.request import urlretrieve as real

            return real(*args, **kwargs)

        stand_in = types.ModuleType("urllib.request")
        stand_in.urlretrieve = urlretrieve  # type: ignore[attr-defined]
        sys.modules["urllib.request"] = stand_in
        try:
            self._loader.exec_module(module)
        finally:
            if sys.modules.get("urllib.request") is stand_in:
                del sys.modules["urllib.request"]
        module.__loader__ = self._loader  # loaded: the module names its own loader again
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader


if "whoosh.compat" not in sys.modules:
    sys.meta_path.insert(0, _CompatWithoutUrllib())
