"""The archive's writer lock: one ingest (or reindex) at a time per archive.

Readers (``search``, ``show``, ``stats``, ``export``) never take it: SQLite's
WAL mode and Whoosh's generations let them read the last commit while a writer
works.  Writers take :class:`ArchiveLock`::

    with ArchiveLock(data_dir, wait=120, on_wait=lambda pid: print(f"waiting for {pid}")):
        ...  # the only writer of data_dir

The lock is ``fcntl.flock`` on the file ``DATA/lock``, which holds the owner's
PID and command (``12345 ingest``, for messages only).  The kernel drops a flock when its owner dies, even by
``kill -9``, so a lock file whose owner is gone is *stale*: present, possibly
with a PID in it, but not flocked; the next writer simply takes it
(:attr:`ArchiveLock.stale_pid` then names the dead owner).  The file itself is
never deleted (deleting it would let two writers lock two different files).

Before anything is written, :func:`check_archive_dir` makes sure the archive
directory can be trusted (yours, not writable by others), and the lock file is
opened without following a symbolic link and checked to be a regular file:
newsarc never writes through a link or into a FIFO planted in its place.

Forked children (the ingest's worker pool) close their inherited copy of the
lock descriptor right after the fork, so a worker that outlives a killed parent
does not keep the archive locked.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from newsarc.errors import ArchiveError, ArchiveLocked
from newsarc.records import file_kind

LOCK_NAME = "lock"
#: How long a second writer waits by default (seconds; ``ingest --wait``).
DEFAULT_WAIT = 120.0
_POLL = 0.1
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

#: Descriptors of locks held by this process (closed in forked children).
_HELD: set[int] = set()


def _close_inherited() -> None:
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)  # closing a duplicate does not unlock the parent's flock
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited)


def lock_path(data_dir: str | Path) -> Path:
    """Where an archive keeps its writer lock."""
    return Path(data_dir) / LOCK_NAME


def _parse_owner(text: str) -> tuple[int | None, str]:
    """``(pid, command)`` from a lock file's text ``"12345 ingest"`` (an older one holds the PID alone)."""
    words = text.split()
    pid = int(words[0]) if words and words[0].isdigit() else None
    return pid, (words[1] if pid is not None and len(words) > 1 else "ingest")


def read_owner(data_dir: str | Path) -> int | None:
    """The PID written in an archive's lock file (None when empty or unreadable)."""
    try:
        fd = os.open(lock_path(data_dir), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return _parse_owner(os.pread(fd, 64, 0).decode("ascii", "replace"))[0]
    except OSError:
        return None
    finally:
        os.close(fd)


def check_archive_dir(data_dir: str | Path) -> None:
    """Refuse to write to an archive directory someone else could have prepared.

    The directory must belong to the user running newsarc and must not be
    writable by others (a world-writable directory, even sticky like ``/tmp``,
    lets anyone plant a symbolic link where newsarc will write).  Raises
    :class:`ArchiveError` with one line saying which.
    """
    data = Path(data_dir)
    try:
        st = os.stat(data)
    except FileNotFoundError:
        raise ArchiveError(f"no archive directory {data}") from None
    except OSError as exc:
        raise ArchiveError(f"cannot use archive directory {data}: {exc.strerror}") from None
    uid = os.geteuid()
    if st.st_uid != uid:
        raise ArchiveError(
            f"archive directory {data} belongs to another user (uid {st.st_uid}): "
            "newsarc writes only to a directory of your own"
        )
    if st.st_mode & stat.S_IWOTH:
        raise ArchiveError(
            f"archive directory {data} is writable by every user (mode {stat.S_IMODE(st.st_mode):o}): "
            f"newsarc does not write there (chmod o-w {data})"
        )


def open_no_follow(path: Path, flags: int) -> int:
    """Open ``path`` (for writing) without following a symbolic link: a regular file of the user's only.

    ``flags`` are added to ``O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC``.  A
    symbolic link, a FIFO, a device, a directory or another user's file at
    ``path`` raises :class:`ArchiveError` (the descriptor is checked with
    ``fstat`` after opening, so nothing swapped in between a check and the
    open is written to or waited on).  Other failures raise ``OSError``.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ArchiveError(f"{path} is a symbolic link: newsarc does not write through one (remove it)") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        kind = "a file of another user" if stat.S_ISREG(st.st_mode) else file_kind(st.st_mode)
        raise ArchiveError(f"{path} is {kind}, not a file newsarc made (remove it)")
    return fd


class ArchiveLock:
    """Exclusive writer lock on an archive directory (a context manager).

    ``wait`` is how many seconds to wait for another writer to finish (0: fail
    at once); ``on_wait(pid)`` is called once when waiting starts; ``command``
    (``ingest``, ``reindex``) is written next to the PID, so that a stale lock
    says what was interrupted.  Raises :class:`ArchiveLocked` ("archive is
    locked by PID N") when the lock stays taken, and :class:`ArchiveError` when
    the directory is not to be trusted (:func:`check_archive_dir`), when the
    lock file cannot be created (a missing or read-only directory, a full
    disk) or is not a regular file of the user's.  The directory must exist.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        wait: float = DEFAULT_WAIT,
        on_wait: Callable[[int | None], None] | None = None,
        command: str = "ingest",
    ) -> None:
        self.data_dir = Path(data_dir)
        self.path = lock_path(data_dir)
        self.wait = max(0.0, float(wait))
        self.on_wait = on_wait
        self.command = command
        self.fd: int | None = None
        #: PID named in a stale lock file this lock replaced, if any, and the command it ran.
        self.stale_pid: int | None = None
        self.stale_command: str | None = None

    # ------------------------------------------------------------------ acquire / release

    def _open(self) -> int:
        try:
            return open_no_follow(self.path, os.O_RDWR | os.O_CREAT)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise ArchiveError(
                    f"archive {self.data_dir} is read-only: cannot write to it ({exc.strerror})"
                ) from None
            if exc.errno == errno.ENOENT:
                raise ArchiveError(f"no archive directory {self.data_dir}") from None
            raise ArchiveError(f"cannot lock archive {self.data_dir}: {exc.strerror}") from None

    def _try(self, fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise ArchiveError(f"cannot lock archive {self.data_dir}: {exc.strerror}") from None
        # The file we locked must still be the one at the path (not replaced meanwhile).
        try:
            same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            same = False
        if not same:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        return True

    def _owner(self) -> int | None:
        for _ in range(5):  # the owner writes its PID right after locking
            pid = read_owner(self.data_dir)
            if pid is not None:
                return pid
            time.sleep(0.01)
        return None

    def acquire(self) -> ArchiveLock:
        """Take the lock (waiting up to ``wait`` seconds); returns self."""
        if self.fd is not None:
            raise RuntimeError("ArchiveLock is not reentrant")
        check_archive_dir(self.data_dir)
        fd = self._open()
        try:
            deadline = time.monotonic() + self.wait
            told = False
            while not self._try(fd):
                if not os.path.exists(self.path):  # removed under us: start over on a new file
                    os.close(fd)
                    fd = self._open()
                    continue
                owner = self._owner()
                if time.monotonic() >= deadline:
                    who = f"PID {owner}" if owner is not None else "another process"
                    if self.wait > 0:
                        raise ArchiveLocked(
                            f"archive is locked by {who} (another ingest is writing {self.data_dir}); "
                            f"gave up after waiting {self.wait:g} s"
                        )
                    raise ArchiveLocked(
                        f"archive is locked by {who} (another ingest is writing {self.data_dir})"
                    )
                if not told:
                    told = True
                    if self.on_wait:
                        self.on_wait(owner)
                time.sleep(_POLL)
                # a new file may have been created if ours was removed
                try:
                    if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                        os.close(fd)
                        fd = self._open()
                except OSError:
                    pass
            stale_pid, stale_command = _parse_owner(os.pread(fd, 64, 0).decode("ascii", "replace"))
            if stale_pid is not None and stale_pid != os.getpid():
                self.stale_pid, self.stale_command = stale_pid, stale_command
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {self.command}\n".encode("ascii"), 0)
            except OSError as exc:  # a full disk, a quota: name the archive
                raise ArchiveError(
                    f"cannot write to archive {self.data_dir}: {exc.strerror} ({self.path})"
                ) from None
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        _HELD.add(fd)
        return self

    def release(self) -> None:
        """Release the lock (the file stays, emptied)."""
        fd = self.fd
        if fd is None:
            return
        self.fd = None
        _HELD.discard(fd)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> ArchiveLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(data_dir: str | Path) -> bool:
    """Whether some live process holds the archive's writer lock."""
    path = lock_path(data_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
