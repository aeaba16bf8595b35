"""newsarc.workers: jobs come back in order with what they raised; a stop never hangs, even while
workers send results larger than their pipes hold; a worker that dies is reported, not waited for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from newsarc.errors import WorkerDied
from newsarc.workers import Workers


def _nothing() -> None:
    """An initializer that sets nothing up."""


def _refuse() -> None:
    raise OSError("the dictionary cannot be read")


def _square_or_fail(n: int) -> int:
    if n == 3:
        raise ValueError(f"no square for {n}")
    return n * n


def _unpicklable() -> object:
    return lambda: None


def test_jobs_give_their_values_and_raise_what_they_raised_in_the_worker() -> None:
    with Workers(2, _nothing) as workers:
        jobs = [workers.submit(_square_or_fail, n) for n in range(40)]
        assert [job.get() for job in jobs if job is not jobs[3]] == [n * n for n in range(40) if n != 3]
        with pytest.raises(ValueError, match="^no square for 3$"):
            jobs[3].get()
        assert jobs[3].ready()
        assert workers.submit(os.getpid).get() != os.getpid()  # a worker, still serving


def test_a_result_that_does_not_pickle_is_an_error_of_its_job() -> None:
    with Workers(1, _nothing) as workers:
        with pytest.raises(RuntimeError, match="^a worker's result does not pickle: "):
            workers.submit(_unpicklable).get()
        assert workers.submit(_square_or_fail, 5).get() == 25


def test_an_initializer_that_fails_is_raised_by_the_first_wait() -> None:
    with Workers(1, _refuse) as workers:
        for _ in range(2):  # and stays raised
            with pytest.raises(OSError, match="^the dictionary cannot be read$"):
                workers.submit(_square_or_fail, 2).get()


def test_a_worker_killed_mid_job_is_reported_not_waited_for() -> None:
    """As the out-of-memory killer kills: the job's wait ends at once with WorkerDied, saying how."""
    with Workers(1, _nothing) as workers:
        pid = workers.submit(os.getpid).get()
        sleeping = workers.submit(time.sleep, 60)
        os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(WorkerDied, match=r"^a worker process was killed by SIGKILL \(out of memory\?\); "):
            sleeping.get()
        assert time.monotonic() - started < 10
        with pytest.raises(WorkerDied):  # and stays reported
            workers.submit(os.getpid).get()


STOPS = textwrap.dedent("""
    import random, sys, time
    from newsarc.workers import Workers

    def nothing():
        pass

    def big(n):
        sum(range(100_000))
        return bytes(400_000)  # more than a pipe holds

    random.seed(7)
    for trial in range(int(sys.argv[1])):
        started = time.monotonic()
        try:
            with Workers(2, nothing) as workers:
                jobs = [workers.submit(big, n) for n in range(500)]
                until = time.monotonic() + random.uniform(0.1, 0.4)
                for job in jobs:
                    job.get()
                    if time.monotonic() > until:
                        time.sleep(0.2)  # busy here: the workers fill their result pipes
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            pass
        print(f"{time.monotonic() - started:.2f}", flush=True)
""")


def test_stopping_while_workers_send_big_results_never_hangs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """multiprocessing.Pool hangs in some such stops (a worker killed holding its shared result
    lock); these stops must all end, each in well under a second or two."""
    script = tmp_path / "stops.py"
    script.write_text(STOPS)
    trials = 8
    try:
        done = subprocess.run([sys.executable, str(script), str(trials)], capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"a stop hung; trials done: {exc.stdout!r}")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    took = [float(line) for line in done.stdout.split()]
    assert len(took) == trials and max(took) < 10, took
