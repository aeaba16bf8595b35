"""Read every version of every file in a git mirror's history.

The feed mirrors that produce archive files are git repositories (a Jekyll
``_posts/`` folder rewritten daily): their history holds every version of
every article.  :class:`GitMirror` enumerates them, oldest first, as
:class:`BlobVersion` records (path, commit, commit time, file bytes), and can
start after a remembered commit so that the next run reads only new commits.

It drives the ``git`` command (``git log --raw`` for what each commit changed,
one ``git cat-file --batch-command`` process for the file contents) rather
than a Python git library: git reads every repository layout git can write
(packs, alternates, shallow and partial clones, bare or not) at C speed, and
a machine holding a git mirror has git.

The history read is the first-parent chain of ``HEAD`` (what the mirror
published, merges included as the change they made to the main line); each
commit contributes the files it added or modified (regular files only: no
symbolic links or submodules), so a file's versions are exactly the states
the main line went through.  Paths with a component starting with ``.``
(``.github/``) are skipped, as a folder ingest skips hidden files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from newsarc.errors import NewsarcError

__all__ = ["BlobVersion", "GitError", "GitMirror", "find_mirror"]

#: Blobs larger than this are reported by size and not read (as :data:`newsarc.parse.MAX_FILE_BYTES`).
MAX_BLOB_BYTES = 20 * 1024 * 1024
#: File modes of regular files in a git tree (symbolic links are 120000, submodules 160000).
_REGULAR = frozenset({"100644", "100755", "100664"})


class GitError(NewsarcError):
    """A git repository cannot be read (git missing, not a repository, damaged objects)."""


@dataclass(frozen=True, slots=True)
class Commit:
    """One commit of the main line: its id and committer time (epoch seconds)."""

    id: str
    time: int


#: One file a commit added or modified: ``(commit, path, blob id)``.
FileChange = tuple[Commit, str, str]


@dataclass(frozen=True, slots=True)
class BlobVersion:
    """One version of one file: the bytes a commit gave it.

    ``sequence`` numbers the versions of one enumeration in history order
    (0, 1, 2 …).  ``data`` is None when the blob could not be used, and
    ``problem`` says why: larger than :data:`MAX_BLOB_BYTES` (not read), or
    missing from the repository (a partial or damaged clone).
    """

    path: str
    commit: str
    commit_time: int
    sequence: int
    blob: str
    size: int
    data: bytes | None
    problem: str | None = None


def _git_executable() -> str:
    git = shutil.which("git")
    if git is None:
        raise GitError("cannot read a git repository: the git command is not installed")
    return git


def find_mirror(path: str | Path) -> GitMirror | None:
    """The git repository at ``path`` (a bare repository or the top of a working copy), else None.

    A folder inside a working copy (``seeds/`` of a project kept in git) is
    not a mirror: it is read as files, like any folder.
    """
    folder = Path(path)
    if not folder.is_dir():
        return None
    looks_like_repo = (folder / ".git").exists() or (
        (folder / "HEAD").is_file() and (folder / "objects").is_dir()
    )
    if not looks_like_repo:
        return None
    out = _run(["rev-parse", "--is-bare-repository", "--absolute-git-dir"], folder, check=False)
    if out is None:
        return None
    bare, git_dir = out.decode("utf-8", "surrogateescape").rstrip("\n").split("\n")[:2]
    if bare == "true":
        top = git_dir
    else:
        out = _run(["rev-parse", "--show-toplevel"], folder, check=False)
        top = out.decode("utf-8", "surrogateescape").rstrip("\n") if out else ""
    if not top or Path(top).resolve() != folder.resolve():
        return None
    return GitMirror(Path(git_dir))


def _run(args: list[str], cwd: Path, *, check: bool = True) -> bytes | None:
    """Run ``git ARGS`` in ``cwd``; its stdout, or None when it failed and not ``check``."""
    try:
        done = subprocess.run(
            [_git_executable(), *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            env=_git_env(),
        )
    except OSError as exc:
        raise GitError(f"cannot run git in {cwd}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        if not check:
            return None
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"{cwd}: git {args[0]} failed: {message[-1] if message else done.returncode}")
    return done.stdout


def _git_env() -> dict[str, str]:
    """The environment git runs in: no pager, no prompts, no user's log or diff settings."""
    env = dict(os.environ)
    env.update(
        {
            "GIT_PAGER": "cat",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "LC_ALL": "C",
        }
    )
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return env


class GitMirror:
    """A git repository whose history holds archive files.  Use :func:`find_mirror`.

    ``git_dir`` is the repository (the ``.git`` folder of a working copy, or a
    bare repository); ``prefix`` limits the files read to one folder of it
    (``""``: all of it).
    """

    def __init__(self, git_dir: Path, *, prefix: str = "") -> None:
        self.git_dir = git_dir
        self.prefix = prefix

    @property
    def name(self) -> str:
        """How the mirror is named in messages and in the archive's memory: git dir plus folder."""
        return f"{self.git_dir}:{self.prefix}" if self.prefix else str(self.git_dir)

    def _git(self, *args: str, check: bool = True) -> bytes | None:
        return _run(["--git-dir", str(self.git_dir), *args], self.git_dir, check=check)

    def head(self) -> str | None:
        """The commit ``HEAD`` names; None for a repository without commits."""
        out = self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return out.decode().strip() if out else None

    def is_ancestor(self, commit: str, head: str) -> bool:
        """Whether ``commit`` exists and is on the history of ``head``."""
        return self._git("merge-base", "--is-ancestor", commit, head, check=False) is not None

    def versions(self, *, after: str | None = None, head: str | None = None) -> Iterator[BlobVersion]:
        """Every version of every file, oldest commit first, up to ``head`` (default ``HEAD``).

        With ``after``, only commits after it are read, if it is on the
        history of ``head``; if it is not (the mirror's history was rewritten,
        or the commit is unknown) the whole history is read again.  Within a
        commit, files come in path order.
        """
        return self.read(self.changes(after=after, head=head))

    def changes(self, *, after: str | None = None, head: str | None = None) -> list[FileChange]:
        """What :meth:`versions` reads, without reading it: ``(commit, path, blob)`` in history order."""
        head = head or self.head()
        if head is None:
            return []
        if after is not None and not self.is_ancestor(after, head):
            after = None
        return list(self._changes(head, after))

    def read(self, changes: list[FileChange]) -> Iterator[BlobVersion]:
        """The file versions of ``changes`` (from :meth:`changes`), numbered in that order."""
        if not changes:
            return
        with _BlobReader(self) as reader:
            for sequence, (commit, path, blob) in enumerate(changes):
                size, data, problem = reader.read(blob)
                yield BlobVersion(path, commit.id, commit.time, sequence, blob, size, data, problem)

    def commits(self, *, after: str | None = None, head: str | None = None) -> list[Commit]:
        """The main-line commits after ``after`` up to ``head``, oldest first."""
        head = head or self.head()
        if head is None:
            return []
        if after is not None and not self.is_ancestor(after, head):
            after = None
        revs = f"{after}..{head}" if after else head
        out = self._git("log", "--first-parent", "--reverse", "--format=%H %ct", revs, "--") or b""
        return [Commit(c, int(t)) for c, t in (line.split() for line in out.decode().splitlines())]

    def _changes(self, head: str, after: str | None) -> Iterator[FileChange]:
        """``(commit, path, blob id)`` of every file added or modified, in history order."""
        revs = f"{after}..{head}" if after else head
        args = [
            "-c", "core.quotepath=off", "log", "--first-parent", "--reverse",
            "--diff-merges=first-parent", "--raw", "--no-renames", "--no-abbrev", "-z",
            "--no-ext-diff", "--format=%x01%H %ct", revs, "--",
        ]
        if self.prefix:
            args.append(self.prefix)
        out = self._git(*args) or b""
        commit: Commit | None = None
        pending: list[tuple[str, str]] = []
        fields = iter(out.split(b"\0"))
        for raw in fields:
            field = raw.lstrip(b"\n")
            if field.startswith(b"\x01"):
                if commit is not None:
                    yield from ((commit, p, b) for p, b in sorted(pending))
                cid, ctime = field[1:].decode().split()
                commit, pending = Commit(cid, int(ctime)), []
            elif field.startswith(b":"):
                path = os.fsdecode(next(fields, b""))
                _old_mode, new_mode, _old_blob, new_blob, status = field[1:].decode().split()
                if status[0] in "AMT" and new_mode in _REGULAR and not _hidden(path):
                    pending.append((path, new_blob))
        if commit is not None:
            yield from ((commit, p, b) for p, b in sorted(pending))


def _hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/"))


class _BlobReader:
    """One ``git cat-file --batch-command`` process answering blob reads one at a time."""

    def __init__(self, mirror: GitMirror) -> None:
        self.mirror = mirror
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> _BlobReader:
        try:
            self.proc = subprocess.Popen(
                [_git_executable(), "--git-dir", str(self.mirror.git_dir), "cat-file",
                 "--batch-command"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_git_env(),
            )
        except OSError as exc:
            raise GitError(f"cannot run git in {self.mirror.git_dir}: {exc.strerror or exc}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.stdin:
            proc.stdin.close()
        if proc.stdout:
            proc.stdout.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _ask(self, command: str) -> bytes:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        try:
            self.proc.stdin.write(command.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise GitError(f"{self.mirror.name}: git cat-file stopped") from None
        header = self.proc.stdout.readline()
        if not header:
            raise GitError(f"{self.mirror.name}: git cat-file stopped")
        return header

    def read(self, blob: str) -> tuple[int, bytes | None, str | None]:
        """``(size, bytes, problem)`` of a blob: bytes is None for a missing or too large blob."""
        header = self._ask(f"info {blob}").split()
        if len(header) != 3 or header[1] != b"blob":
            return 0, None, "blob missing from the repository (a partial or damaged clone)"
        size = int(header[2])
        if size > MAX_BLOB_BYTES:
            mb = 1024 * 1024
            return size, None, f"file too large: {size / mb:.1f} MB > {MAX_BLOB_BYTES // mb} MB"
        self._ask(f"contents {blob}")
        assert self.proc is not None and self.proc.stdout
        data = self.proc.stdout.read(size + 1)[:size]  # the content, then a newline
        if len(data) != size:
            raise GitError(f"{self.mirror.name}: git cat-file stopped reading blob {blob}")
        return size, data, None
