"""Worker processes that can be stopped at any moment, and that are missed when they die.

An ingest hands its work to :class:`Workers` and may be stopped in the middle of
it (Ctrl-C, SIGTERM, an error in the main process).  ``multiprocessing.Pool``
cannot be stopped so safely: its workers share one task pipe and one result pipe,
each guarded by a lock the processes share, and it stops by killing them.  A
worker killed while it holds the result pipe's lock — sending a result larger
than the pipe holds, which happens whenever results are big and the pool has
stopped reading — leaves the pool's task thread waiting for that lock for good,
and the stop with it (shown in isolation: 2 hangs in 40 stops of a pool whose
results were 300 kB).  A worker that dies on its own (the out-of-memory killer)
is replaced and its task lost, and whoever waits for that task waits for ever.

Here every worker has a pipe of its own each way and no lock is shared between
processes.  The main process alone writes to the task pipes, and only as much as
a pipe holds (a task larger than that goes only to a worker that is waiting for
one), so it is never held up by a busy worker; a thread of its own reads every
result pipe, so a worker is never held up sending.  Stopping kills the workers:
their pipes close, which that thread sees as the end of each.  A worker's pipe
that ends while the work goes on raises :class:`~newsarc.errors.WorkerDied`.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from itertools import count
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from typing import Any

from newsarc.errors import WorkerDied

#: Jobs a worker is given ahead of the one it works on, as long as they fit in its pipe: enough
#: that it never waits for the main process, busy with a batch of its own, to give it more.
DEPTH = 64
#: The bytes a task pipe is asked to hold (Linux allows an unprivileged process up to 1 MiB).
PIPE_BYTES = 1 << 20
#: Signals blocked while a worker starts, so that none reaches it before it has set its handlers.
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class Job:
    """A function call given to :class:`Workers`: ask whether it is done, or wait for its value."""

    __slots__ = ("_workers", "message", "size", "cost", "_done", "_ok", "_value")

    def __init__(self, workers: Workers, message: bytes, cost: int) -> None:
        self._workers = workers
        self.message = message  # the pickled call, as sent
        self.size = len(message) + 4  # what it takes in the pipe: the message and its length
        self.cost = cost
        self._done = False
        self._ok = False
        self._value: Any = None

    def ready(self) -> bool:
        """Whether the call has returned (or raised); does not wait."""
        if not self._done:
            self._workers.poll()
        return self._done

    def get(self) -> Any:
        """Wait for the call: its value, or the exception it raised in the worker, raised here."""
        while not self._done:
            self._workers.poll(block=True)
        if not self._ok:
            raise self._value
        return self._value

    def settle(self, ok: bool, value: Any) -> None:
        """Record what the worker sent back."""
        self._done, self._ok, self._value = True, ok, value


class _Worker:
    """One worker process, its two pipes and the jobs it has been given, oldest first."""

    def __init__(self, process: Any, tasks: Connection, results: Connection, capacity: int) -> None:
        self.process = process
        self.tasks = tasks  # the main process's end: it writes
        self.results = results  # the main process's end: the reader thread reads
        self.jobs: deque[Job] = deque()
        self.load = 0  # the cost of the jobs given and not yet answered
        self.bytes = 0  # their messages' size: what the task pipe may still hold of them
        self.capacity = capacity  # the bytes its task pipe holds


class Workers:
    """``processes`` worker processes, each set up by ``initializer(*initargs)``; a context
    manager that stops them on leaving, whatever the state of their work.

    Jobs go out in the order they are given (:meth:`submit`), each to the least
    loaded worker.  Everything runs in the main thread but the reading of
    results; a :class:`Job` waits by reading what the workers sent.  Functions and
    arguments must pickle (module-level functions).
    """

    def __init__(self, processes: int, initializer: Callable[..., None], initargs: tuple[Any, ...] = ()) -> None:
        self.processes = processes
        self._initializer = initializer
        self._initargs = initargs
        self._workers: list[_Worker] = []
        self._pending: deque[Job] = deque()
        self._inbox: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self._reader: threading.Thread | None = None
        self._ids = count()
        self._failed: Exception | None = None  # a worker gone, or an initializer that failed

    def __enter__(self) -> Workers:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        ctx = get_context("fork") if hasattr(os, "fork") else get_context()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            for _ in range(self.processes):
                task_r, task_w = ctx.Pipe(duplex=False)
                result_r, result_w = ctx.Pipe(duplex=False)
                capacity = _widen(task_w)
                process = ctx.Process(
                    target=_serve, args=(task_r, result_w, self._initializer, self._initargs),
                    daemon=True, name="newsarc-worker",
                )
                process.start()
                task_r.close()  # the worker's ends: only it holds them now, so they close with it
                result_w.close()
                self._workers.append(_Worker(process, task_w, result_r, capacity))
            # started with the signals blocked, the reader thread keeps them so: they reach the main
            # thread, which wakes from any wait to stop (one delivered to this thread would not wake it)
            self._reader = threading.Thread(target=self._read, name="newsarc-worker-results", daemon=True)
            self._reader.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def submit(self, fn: Callable[..., Any], *args: Any, cost: int = 1) -> Job:
        """Have a worker call ``fn(*args)``, after the jobs given before.  ``cost`` (1 to
        :data:`DEPTH`) is how many of a worker's places the job takes: a long one
        (:data:`DEPTH`) goes behind what its worker has queued, and nothing goes behind it."""
        if self._failed is not None:
            raise self._failed
        message = pickle.dumps((next(self._ids), fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        job = Job(self, message, max(1, min(cost, DEPTH)))
        self._pending.append(job)
        self._dispatch()
        return job

    def poll(self, block: bool = False) -> None:
        """Settle the jobs whose results have come (waiting for one, if ``block``), and give
        the workers what they now have room for.  Raises :class:`WorkerDied` when a worker
        has gone."""
        if self._failed is not None:
            raise self._failed
        while True:
            try:
                index, message = self._inbox.get(block=block)
            except queue.Empty:
                break
            self._receive(index, message)
            block = False
        self._dispatch()

    def _receive(self, index: int, message: Any) -> None:
        worker = self._workers[index]
        if message is None:
            self._failed = WorkerDied(f"a worker process {_ended(worker.process)}; what was committed before is kept")
            raise self._failed
        job_id, ok, value = message
        if job_id is None:  # its initializer failed
            self._failed = value
            raise value
        job = worker.jobs.popleft()
        worker.load -= job.cost
        worker.bytes -= job.size
        job.settle(ok, value)

    def _dispatch(self) -> None:
        while self._pending:
            job = self._pending[0]
            worker = min(self._workers, key=lambda w: w.load)
            if worker.load and (worker.load >= DEPTH or worker.bytes + job.size > worker.capacity):
                return  # an idle worker reads a task as it is written: it never waits on the pipe
            self._pending.popleft()
            worker.jobs.append(job)
            worker.load += job.cost
            worker.bytes += job.size
            with suppress(OSError):  # the worker has gone: the end of its result pipe comes after
                worker.tasks.send_bytes(job.message)  # what it sent, and says so

    def _read(self) -> None:
        """The reader thread: every result, as it comes, into the inbox; ``None`` for a pipe
        that ended (its worker exited or was killed)."""
        readers = {worker.results: i for i, worker in enumerate(self._workers)}
        while readers:
            for conn in wait(list(readers)):
                try:
                    message = pickle.loads(conn.recv_bytes())
                except Exception:  # EOF, a result cut short, or one that does not unpickle
                    message = None
                self._inbox.put((readers.pop(conn) if message is None else readers[conn], message))

    def stop(self) -> None:
        """Kill the workers (whatever they are doing) and wait until they are gone."""
        for worker in self._workers:
            worker.process.kill()
        for worker in self._workers:
            worker.process.join()
        if self._reader is not None:
            self._reader.join()  # every result pipe has ended with its worker
        for worker in self._workers:
            worker.tasks.close()
            worker.results.close()
        self._workers.clear()
        self._pending.clear()


def _widen(conn: Connection) -> int:
    """Ask for a pipe of :data:`PIPE_BYTES` (Linux); how many bytes it holds now (64 KiB,
    Linux's default, where that cannot be asked)."""
    with suppress(ImportError, AttributeError, OSError):
        import fcntl

        with suppress(OSError):  # refused: it keeps its size
            fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        return int(fcntl.fcntl(conn.fileno(), fcntl.F_GETPIPE_SZ))
    return 1 << 16


def _ended(process: Any) -> str:
    """How a worker process ended, for a message."""
    process.join(timeout=5)
    code = process.exitcode
    if code is None:
        return "stopped answering"
    if code < 0:
        name = signal.Signals(-code).name
        return f"was killed by {name}" + (" (out of memory?)" if -code == signal.SIGKILL else "")
    return f"exited with status {code}"


def _serve(tasks: Connection, results: Connection, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    """A worker process: call what comes through ``tasks``, send each value (or the exception
    it raised) through ``results``, until the pipe ends.

    It leaves interrupts to the main process: SIGINT is ignored, SIGTERM kills
    it, it moves to a process group of its own (a signal sent to the ingest's
    group does not reach it) and, on Linux, it is killed when its parent dies.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    with suppress(OSError):
        os.setpgid(0, 0)
    _die_with_parent()
    try:
        initializer(*initargs)
    except Exception as exc:
        _send(results, None, False, exc)
        return
    while True:
        try:
            job_id, fn, args = pickle.loads(tasks.recv_bytes())
        except (EOFError, OSError):  # the main process has gone
            return
        try:
            value, ok = fn(*args), True
        except Exception as exc:
            value, ok = exc, False
        if not _send(results, job_id, ok, value):
            return


def _send(results: Connection, job_id: int | None, ok: bool, value: Any) -> bool:
    """Send a job's outcome (a value or exception that does not pickle is sent as an error
    saying so); False when the main process has gone."""
    try:
        message = pickle.dumps((job_id, ok, value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        error = RuntimeError(f"a worker's result does not pickle: {exc}")
        message = pickle.dumps((job_id, False, error), protocol=pickle.HIGHEST_PROTOCOL)
    try:
        results.send_bytes(message)
    except OSError:
        return False
    return True


def _die_with_parent() -> None:
    """Be killed with the parent (Linux), not linger when it is killed."""
    with suppress(Exception):  # not Linux: the worker exits on its own when its task pipe ends
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
