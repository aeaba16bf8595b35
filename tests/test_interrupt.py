"""Ctrl-C and SIGTERM during a default (multi-worker) ingest: no traceback, no hang, one message.

The ingest runs as a real process in its own process group, and the signal goes
to the whole group, as a terminal's Ctrl-C or ``kill -INT -PGID`` sends it.
Afterwards the same ingest, run again, completes the archive exactly.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import jsonl, make_corpus, run, template_archive
from newsarc.index import APART_PREFIX, INDEX_NAME, index_dir
from newsarc.store import open_store

FILES = 300
#: Enough that an ingest on a quiet machine is still running when its bar shows a rate (after 0.5 s).
TERMINAL_FILES = 5000
#: (signal, delay before it in seconds, exit code)
TRIALS = [
    (signal.SIGINT, 1.4, 130),
    (signal.SIGTERM, 2.0, 143),
    (signal.SIGINT, 2.6, 130),
    (signal.SIGINT, 3.2, 130),
    (signal.SIGTERM, 3.8, 143),
]
#: How long an interrupted ingest may take to exit.
EXIT_WITHIN = 10.0
BAR = re.compile(r"parse  \[[#-]+\]  \d+/\d+\s+\d+%\s+\d\d:\d\d:\d\d\s+\d+ files/s")
MESSAGE = re.compile(
    r"^newsarc: interrupted: (\d+) articles? committed; run the same ingest again to resume$"
)


def _whoosh_ids(data: Path) -> Counter:
    from whoosh import index

    ix = index.open_dir(index_dir(data), indexname=INDEX_NAME)
    with ix.reader() as reader:
        return Counter(fields["id"] for _n, fields in reader.iter_docs())


def _default_signals() -> None:
    """In the child: SIGINT and SIGTERM as a terminal's foreground command has them. A suite run in
    the background of a non-interactive shell (``pytest &``) inherits SIGINT ignored, and Python then
    leaves it ignored: the ingest would never see the Ctrl-C these tests send."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _ingest(data: Path, corpus: Path, **kw) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = {**os.environ, "NEWSARC_BATCH_SIZE": "50", "NO_COLOR": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "newsarc", "--data", str(data), "ingest", "--wait", "0", str(corpus)],
        start_new_session=True, env=env, preexec_fn=_default_signals, **kw,
    )


def _interrupt(proc: subprocess.Popen, signum: int, delay: float) -> tuple[float, bool]:
    """Signal the process group after ``delay`` s; (seconds it took to exit, whether it had finished)."""
    time.sleep(delay)
    finished = proc.poll() is not None
    if not finished:
        os.killpg(proc.pid, signum)
    sent = time.monotonic()
    try:
        proc.wait(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"ingest hung after {signal.Signals(signum).name}")
    return time.monotonic() - sent, finished


def test_interrupted_ingest_stops_cleanly_and_resumes(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    corpus = tmp_path / "corpus"
    urls = make_corpus(corpus, FILES)
    data = tmp_path / "data"
    shutil.copytree(template_archive(tmp_path_factory), data)
    with open_store(data) as store:
        base = store.count()
    report = []
    for signum, delay, code in TRIALS:
        proc = _ingest(data, corpus, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        took, finished = _interrupt(proc, signum, delay)
        err = proc.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        with open_store(data) as store:
            stored = store.count() - base
        if finished or err.startswith("ingested "):
            # the whole corpus was done before the signal (or the signal came while the finished
            # process was exiting, its handlers already restored: then it dies of the signal)
            assert proc.returncode in (0, -signum), err
        else:
            assert proc.returncode == code, err
            lines = err.splitlines()
            assert len(lines) == 1, err
            m = MESSAGE.match(lines[0])
            assert m, err
            assert int(m.group(1)) <= stored
            # what the stopped workers were writing apart is removed before the lock is let go
            assert not [n for n in os.listdir(index_dir(data)) if n.startswith(APART_PREFIX)]
        assert not any(n > 1 for n in _whoosh_ids(data).values())
        report.append((signal.Signals(signum).name, delay, proc.returncode, round(took, 2), stored))
    print(f"\ninterrupt trials (signal, delay s, exit, s to exit, articles stored): {report}")
    done = _ingest(data, corpus, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert done.wait(timeout=120) == 0, done.stderr.read().decode()  # type: ignore[union-attr]
    ids = _whoosh_ids(data)
    with open_store(data) as store:
        assert store.unindexed() == []
        assert store.count() == base + FILES
        stored_urls = {r[0] for r in store.conn.execute("SELECT url FROM articles")}
    assert set(urls) <= stored_urls
    assert sum(ids.values()) == len(ids) == base + FILES
    hits = jsonl(run("search", "--json", "--all", "金正恩", data=data).stdout)
    assert len(hits) == len({h["id"] for h in hits})


def test_on_a_terminal_the_progress_line_is_cleared_before_the_message(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """stderr a terminal: a progress bar (phase, count, percentage, rate), erased before the message."""
    corpus = tmp_path / "corpus"
    make_corpus(corpus, TERMINAL_FILES)
    data = tmp_path / "data"
    shutil.copytree(template_archive(tmp_path_factory), data)
    master, slave = pty.openpty()
    proc = _ingest(data, corpus, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the process closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        if not sent and BAR.search(b"".join(chunks).decode(errors="replace")):
            os.killpg(proc.pid, signal.SIGINT)
            sent = True
    os.close(master)
    out = b"".join(chunks).decode(errors="replace")
    assert sent and BAR.search(out), f"no progress bar with a rate before the ingest ended: {out[-400:]!r}"
    assert proc.wait(timeout=EXIT_WITHIN) == 130, out[-600:]
    assert "Traceback" not in out
    erased = out.rindex("\r\x1b[K\x1b[?25h")
    message = out[erased:].replace("\r\x1b[K\x1b[?25h", "").strip()
    assert MESSAGE.match(message), repr(out[-400:])


LOST = """
import functools, sys, time
from newsarc.cli import _send_lost_interrupt_again

sys.unraisablehook = functools.partial(_send_lost_interrupt_again, sys.unraisablehook)


class Finalized:
    def __del__(self):
        raise KeyboardInterrupt  # as a Ctrl-C that comes while a finalizer runs


Finalized()  # Python swallows what a finalizer raises
try:
    time.sleep(20)
    print("went on")
except KeyboardInterrupt:
    print("stopped")
"""


def test_an_interrupt_a_finalizer_swallowed_is_sent_again() -> None:
    """Python only prints what a ``__del__`` raises and goes on; an ingest hit by Ctrl-C while a
    finalizer (Whoosh's file locks have some) ran would have finished instead of stopping."""
    done = subprocess.run([sys.executable, "-c", LOST], capture_output=True, text=True, timeout=30)
    assert (done.stdout, done.stderr) == ("stopped\n", "")


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the worker processes in /proc")
def test_an_ingest_whose_worker_is_killed_stops_with_one_line_and_resumes(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A worker killed as the out-of-memory killer kills (SIGKILL) ends the ingest at once: exit 1,
    one line saying so, what was committed kept; the same ingest run again completes the archive."""
    corpus = tmp_path / "corpus"
    make_corpus(corpus, FILES)
    data = tmp_path / "data"
    shutil.copytree(template_archive(tmp_path_factory), data)
    with open_store(data) as store:
        base = store.count()
    proc = _ingest(data, corpus, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not (workers := _children(proc.pid)) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert workers, "no worker process seen"
    time.sleep(0.3)
    os.kill(workers[0], signal.SIGKILL)
    try:
        code = proc.wait(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail("ingest hung after a worker was killed")
    err = proc.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
    assert code == 1, err
    assert err.splitlines() == [
        "newsarc: a worker process was killed by SIGKILL (out of memory?); what was committed before is kept"
    ]
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]  # every worker stopped
    assert not [n for n in os.listdir(index_dir(data)) if n.startswith(APART_PREFIX)]
    done = _ingest(data, corpus, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert done.wait(timeout=120) == 0, done.stderr.read().decode()  # type: ignore[union-attr]
    with open_store(data) as store:
        assert store.unindexed() == []
        assert store.count() == base + FILES
    ids = _whoosh_ids(data)
    assert sum(ids.values()) == len(ids) == base + FILES
