"""Reading every version of every file from a real git repository built from corpus files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import corpus_dir
from newsarc.gitmirror import GitMirror, find_mirror

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

#: Three versions of one zaobao article (same archive time), and two of an RFI one.
V1 = "feeds-older-versions/00091_31b22bacdfd67e18.txt"
V2 = "feeds-older-versions/00092_31b22bacdfd67e18.txt"
V3 = "feeds/01788_31b22bacdfd67e18.txt"
R1 = "feeds-older-versions/00174_61d792c5e24687c3.txt"
OTHER = "feeds/00000_0005e18eb5dcffcc.txt"


def git(repo: Path, *args: str, when: int | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "mirror", "GIT_AUTHOR_EMAIL": "m@example.org",
           "GIT_COMMITTER_NAME": "mirror", "GIT_COMMITTER_EMAIL": "m@example.org",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)}
    if when is not None:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = f"@{when} +0000"
    done = subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def corpus_bytes(rel: str) -> bytes:
    return (corpus_dir(rel.split("/")[0]) / rel.split("/")[1]).read_bytes()


def build_mirror(repo: Path) -> list[str]:
    """A working copy with four commits editing files in _posts/; returns the commit ids."""
    posts = repo / "_posts"
    posts.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    commits = []

    def commit(message: str, when: int) -> None:
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", message, when=when)
        commits.append(git(repo, "rev-parse", "HEAD"))

    (posts / "2020-07-27-间谍案.md").write_bytes(corpus_bytes(V1))
    (posts / "2020-07-30-台美.md").write_bytes(corpus_bytes(R1))
    (repo / ".github").mkdir()
    (repo / ".github" / "build.yml").write_text("on: push\n")
    commit("day 1", 1595900000)
    (posts / "2020-07-27-间谍案.md").write_bytes(corpus_bytes(V2))
    (repo / "README.md").write_text("# a feed mirror\n")
    commit("day 2", 1595986400)
    (posts / "2020-07-27-间谍案.md").write_bytes(corpus_bytes(V3))
    (posts / "2020-07-30-台美.md").unlink()
    (posts / "2020-07-01-other.md").write_bytes(corpus_bytes(OTHER))
    commit("day 3", 1596072800)
    git(repo, "commit", "-q", "--allow-empty", "-m", "nothing changed", when=1596159200)
    commits.append(git(repo, "rev-parse", "HEAD"))
    return commits


def listing(mirror: GitMirror, **kw: str) -> list[tuple[str, int, int, bytes | None]]:
    return [(v.path, v.commit_time, v.sequence, v.data) for v in mirror.versions(**kw)]


def test_every_version_in_commit_order(tmp_path: Path) -> None:
    repo = tmp_path / "mirror"
    commits = build_mirror(repo)
    mirror = find_mirror(repo)
    assert mirror is not None and mirror.git_dir == repo / ".git"
    assert mirror.head() == commits[-1]
    assert listing(mirror) == [
        ("_posts/2020-07-27-间谍案.md", 1595900000, 0, corpus_bytes(V1)),
        ("_posts/2020-07-30-台美.md", 1595900000, 1, corpus_bytes(R1)),
        ("README.md", 1595986400, 2, b"# a feed mirror\n"),
        ("_posts/2020-07-27-间谍案.md", 1595986400, 3, corpus_bytes(V2)),
        ("_posts/2020-07-01-other.md", 1596072800, 4, corpus_bytes(OTHER)),
        ("_posts/2020-07-27-间谍案.md", 1596072800, 5, corpus_bytes(V3)),
    ]
    assert [v.commit for v in mirror.versions()] == [commits[0]] * 2 + [commits[1]] * 2 + [commits[2]] * 2
    assert [c.time for c in mirror.commits()] == [1595900000, 1595986400, 1596072800, 1596159200]


def test_starting_after_a_remembered_commit(tmp_path: Path) -> None:
    repo = tmp_path / "mirror"
    commits = build_mirror(repo)
    mirror = GitMirror(repo / ".git")
    assert [v.path for v in mirror.versions(after=commits[1])] == [
        "_posts/2020-07-01-other.md", "_posts/2020-07-27-间谍案.md",
    ]
    assert [c.id for c in mirror.commits(after=commits[1])] == commits[2:]
    assert listing(mirror, after=commits[-1]) == []
    # a commit that is not on the history (rewritten, or unknown): everything again
    assert len(listing(mirror, after="0" * 40)) == 6


def test_bare_repository_and_what_is_not_a_mirror(tmp_path: Path) -> None:
    repo = tmp_path / "mirror"
    build_mirror(repo)
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    mirror = find_mirror(bare)
    assert mirror is not None
    assert listing(mirror) == listing(GitMirror(repo / ".git"))
    assert find_mirror(repo / "_posts") is None  # a folder inside a working copy is files
    assert find_mirror(tmp_path) is None  # a plain folder
    assert find_mirror(repo / "README.md") is None
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    empty_mirror = find_mirror(empty)
    assert empty_mirror is not None and empty_mirror.head() is None
    assert listing(empty_mirror) == []


def test_a_folder_of_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "mirror"
    build_mirror(repo)
    mirror = GitMirror(repo / ".git", prefix="_posts")
    assert "README.md" not in [v.path for v in mirror.versions()]
    assert len(listing(mirror)) == 5
