"""The ``newsarc`` command line: parses arguments, calls the library, renders.

Exit codes: 0 success (``search``: hits found); 1 nothing found, an unknown or
ambiguous id, rejected files, or an archive problem; 2 usage errors
(including malformed queries, unknown options and unknown outlets).  Data goes
to stdout, talk to stderr.  A reader that closes the pipe early
(``newsarc export | head``) is not an error: exit 0, nothing more written.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from newsarc.errors import AmbiguousArticle, NewsarcError, QueryError, UnknownSource

DEFAULT_DATA = "data"


def _data_option(func: Callable) -> Callable:
    return click.option(
        "--data",
        "data",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="NEWSARC_DATA",
        default=None,
        help="Archive directory [env NEWSARC_DATA; default ./data].",
    )(func)


def _data_dir(ctx: click.Context, data: Path | None) -> Path:
    if data is not None:
        return data
    parent = ctx.find_root().params.get("data")
    return parent if parent is not None else Path(DEFAULT_DATA)


def _bound(data_dir: Path) -> bool:
    """Whether the archive directory is bound to an OpenSearch cluster (see ``newsarc init``)."""
    from newsarc.binding import is_bound

    return is_bound(data_dir)


def _embedded(data_dir: Path, feature: str) -> Path:
    """``data_dir``, once it is an embedded archive: a ``feature`` only the embedded engine offers
    fails with one line on an archive bound to a cluster (see :func:`newsarc.engine.embedded_dir`)."""
    if _bound(data_dir):
        from newsarc.engine import embedded_dir, open_engine

        engine = open_engine(data_dir)
        try:
            embedded_dir(engine, feature)
        finally:
            engine.close()
    return data_dir


def _reports_errors(func: Callable) -> Callable:
    """Turn newsarc's errors into one line on stderr and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            try:
                return func(*args, **kwargs)
            finally:  # output still buffered meets a closed pipe here, not at exit
                sys.stdout.flush()
        except UnknownSource as exc:
            raise click.BadParameter(_printable(str(exc)), param_hint="'--source'") from None
        except QueryError as exc:
            click.echo(f"newsarc: bad query: {_printable(str(exc))}", err=True)
            sys.exit(2)
        except NewsarcError as exc:
            click.echo(f"newsarc: {_printable(str(exc))}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("newsarc: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            raise  # not an OSError to report: the group exits quietly
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            click.echo(f"newsarc: {_printable(str(exc.strerror or exc))}{_printable(str(where))}", err=True)
            sys.exit(1)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug: one line, unless NEWSARC_DEBUG asks for the traceback
            if os.environ.get("NEWSARC_DEBUG"):
                raise
            click.echo(f"newsarc: internal error: {type(exc).__name__}: {_printable(str(exc))[:300]} "
                       "(set NEWSARC_DEBUG=1 for a traceback)", err=True)
            sys.exit(1)

    return wrapper


def _exit_quietly() -> NoReturn:
    """The reader closed the pipe (``newsarc export | head -1``): exit 0 without another word.

    Standard output is pointed at /dev/null first, so that flushing what is still
    buffered at exit cannot fail again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test runner's stream)
        pass
    sys.exit(0)


_COLOR_CHOICES = {"auto": None, "always": True, "never": False}


def _color_option(func: Callable) -> Callable:
    return click.option(
        "--color", "color", type=click.Choice(list(_COLOR_CHOICES)), default="auto",
        show_default=True,
        help="Colour: auto (on a terminal, unless NO_COLOR is set), always or never.",
    )(func)


def _style(stream: Any = None, color: str = "auto"):  # type: ignore[no-untyped-def]
    """The render style for ``stream`` (stdout by default) under ``--color``."""
    from newsarc.render import style_for

    return style_for(stream or sys.stdout, force_color=_COLOR_CHOICES[color])


def _wait_option(func: Callable) -> Callable:
    return click.option(
        "--wait", "wait", type=click.FloatRange(min=0), default=120, show_default=True, metavar="SECONDS",
        help="How long to wait for another ingest or reindex writing the same archive (0: fail at once).",
    )(func)


def _on_wait(wait: float) -> Callable[[int | None], None]:
    """The writers' ``on_wait``: one line saying whose lock is awaited, and for how long."""

    def on_wait(pid: int | None) -> None:
        who = f"PID {pid}" if pid is not None else "another process"
        click.echo(f"waiting for the archive lock held by {who}… (up to {wait:g} s; --wait SECONDS)",
                   err=True)

    return on_wait


SINCE_HELP = ("Published on or after DATE: YYYY-MM-DD, YYYY-MM (its first day) or YYYY "
              "(1 January), by the outlet's own local date.")
UNTIL_HELP = ("Published on or before DATE: YYYY-MM-DD, YYYY-MM (the whole month) or YYYY "
              "(the whole year), by the outlet's own local date.")


def _complete_sources(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of ``--source``: the archive's outlet keys, else the outlet table's."""
    from click.shell_completion import CompletionItem

    from newsarc.sources import OUTLET_NAMES

    outlets = OUTLET_NAMES
    try:
        from newsarc.search import open_searcher

        with open_searcher(_data_dir(ctx, ctx.params.get("data")), aliases=False) as searcher:
            outlets = searcher.outlets() or OUTLET_NAMES
    except (NewsarcError, OSError):
        pass  # no archive (yet): the built-in outlet table
    prefix = incomplete.lower()
    return [CompletionItem(key, help=name) for key, name in sorted(outlets.items())
            if key.startswith(prefix)]


def _filter_options(func: Callable) -> Callable:
    """``--source``, ``--since``, ``--until``: the filters of every command taking a QUERY."""
    func = click.option("--until", metavar="DATE", help=UNTIL_HELP)(func)
    func = click.option("--since", metavar="DATE", help=SINCE_HELP)(func)
    return click.option(
        "--source", "sources", multiple=True, metavar="KEY", shell_complete=_complete_sources,
        help="Only this outlet (repeatable): its key (voa, bbc, rfi, dw, …) or its name "
             "(美国之音); an outlet not in the archive is an error that lists them.",
    )(func)


def split_query_args(
    args: list[str], params: list[click.Parameter], *, resilient: bool = False
) -> list[str]:
    """Arguments of a QUERY command, rearranged so that click sees query words as words.

    ``--`` ends the options.  A ``--name`` or ``--name=value`` is an option,
    known or not (an unknown one is then click's usage error, with its "did you
    mean" suggestion), followed by its value if it takes one.  A word with a
    single ``-`` is an option only when it is one of the command's short
    options (``-n``, ``-h``), or such an option with a number attached (``-n5``);
    every other word — ``-乌克兰``, ``-Tu-160``, ``-2020`` — is a query word (an
    exclusion).  The query words follow the options after a ``--``, in order.
    An option missing its value is a usage error, unless ``resilient`` (shell
    completion parses unfinished command lines).
    """
    takes_value: dict[str, int] = {}
    for param in params:
        if isinstance(param, click.Option):
            values = 0 if param.is_flag or param.count else param.nargs
            for name in (*param.opts, *param.secondary_opts):
                takes_value[name] = values
    options: list[str] = []
    words: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            words.extend(rest)
            break
        short = arg[:2]
        if arg.startswith("--") or arg in takes_value or (
            takes_value.get(short) and arg[2:].isdigit()
        ):
            options.append(arg)
            name = arg.split("=", 1)[0]
            if "=" in arg or arg not in takes_value:
                continue  # value attached, a flag, or unknown (click reports it)
            for _ in range(takes_value[name]):
                value = next(rest, None)
                if value is None:
                    if resilient:
                        break
                    raise click.BadOptionUsage(name, f"Option '{name}' requires an argument.")
                options.append(value)
        else:
            words.append(arg)
    return [*options, "--", *words] if words else options


class QueryCommand(click.Command):
    """A command taking QUERY words, which may start with ``-`` (see :func:`split_query_args`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            args = split_query_args(args, self.get_params(ctx), resilient=ctx.resilient_parsing)
        except click.UsageError as exc:
            exc.ctx = ctx
            raise
        return super().parse_args(ctx, args)


class _Group(click.Group):
    """newsarc's command group: a reader closing the pipe at any point (a command's
    output, click's help text) ends the program with exit code 0 and no message."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            _exit_quietly()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _exit_quietly()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@_data_option
@click.version_option(package_name="newsarc")
def cli(data: Path | None) -> None:
    """newsarc: archive and search Chinese-language news.

    \b
    Examples:
      newsarc ingest seeds/          parse, segment and index archive files
      newsarc search 普京 朝鲜        ranked hits with highlighted snippets
      newsarc show ID                the clean article
      newsarc serve --open           search and read in a web browser
    """


# ----------------------------------------------------------------------------- ingest


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dict", "user_dict", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Add a jieba-format user dictionary to the archive (kept in DATA/userdict.txt).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes for parsing and segmentation [default: CPU count].")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@_wait_option
@_data_option
@click.pass_context
@_reports_errors
def ingest(ctx: click.Context, paths: tuple[Path, ...], user_dict: Path | None, workers: int | None,
           as_json: bool, wait: float, data: Path | None) -> None:
    """Parse, segment and index archive files and folders (recursively).

    Idempotent: unchanged files are skipped.  Every distinct version of an
    article is kept; the newest (latest archive time) is the one every command
    sees.  A PATH that is a git repository (bare, or the top of a working copy)
    is read version by version from its history, from the last commit read
    on.  Files that are not archive files are reported on stderr, one line
    each; the rest is still ingested.  Exit code 1 if any file was rejected.

    \b
    Examples:
      newsarc ingest seeds/
      newsarc ingest ../shared/corpus/feeds ../shared/corpus/feeds-older-versions
      newsarc ingest --dict names.txt seeds/
      newsarc ingest ~/mirrors/oped2.git
    """
    from newsarc.ingest import ingest as run_ingest
    from newsarc.render import render_ingest_summary

    data_dir = _data_dir(ctx, data)
    progress = _Progress("files")

    def on_reject(path: str, reason: str) -> None:
        progress.clear()
        click.echo(f"{_printable(path)}: {_printable(reason)}", err=True)

    def on_message(message: str) -> None:
        progress.clear()
        click.echo(_printable(message), err=True)

    with _interruptible(progress, "run the same ingest again to resume"):
        if _bound(data_dir):
            from newsarc.ingest import add_user_dictionary
            from newsarc.opensearch import ingest as cluster_ingest

            if user_dict is not None:
                added = add_user_dictionary(data_dir, user_dict)
                click.echo(f"dictionary: {added} new words from {_printable(str(user_dict))}", err=True)
            summary = cluster_ingest(
                paths, data_dir, workers=workers, on_reject=on_reject,
                on_progress=lambda done, total: progress("parse", done, total), on_message=on_message,
            )
        else:
            summary = run_ingest(
                paths, data_dir, workers=workers, on_reject=on_reject, on_progress=progress,
                on_message=on_message, wait=wait, on_wait=_on_wait(wait), user_dict=user_dict,
            )
    progress.clear()
    if as_json:
        import json

        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
    render_ingest_summary(summary.as_dict(), sys.stderr)
    if summary.reindexed:
        click.echo(f"re-indexed {summary.reindexed} stored articles", err=True)
    failed = getattr(summary, "failed", [])
    for aid, reason in failed[:10]:
        click.echo(f"newsarc: the cluster refused article {aid}: {_printable(reason)}", err=True)
    if len(failed) > 10:
        click.echo(f"newsarc: … and {len(failed) - 10} more refused articles", err=True)
    if summary.rejected or failed:
        sys.exit(1)


class _Progress:
    """A long job's progress on stderr, on a terminal only (nothing when piped).

    click's progress bar, updated per file or article: the phase (``parse``,
    ``index``, ``merge``), the bar, count, percentage, ETA and rate.  Called as
    the library's ``on_progress(phase, done, total)``.
    """

    def __init__(self, noun: str) -> None:
        self.noun = noun
        self.shown = sys.stderr.isatty()
        self.bar: Any = None
        self.started = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.shown:
            return
        if phase != "merge" and (self.bar is None or self.bar.length != total or done < self.bar.pos):
            if not total:
                return
            self.clear()
            self.bar = click.progressbar(length=total, file=sys.stderr, width=24, show_pos=True,
                                         show_percent=True, show_eta=True, item_show_func=self._rate)
            self.started = time.monotonic()
        if self.bar is None:
            return
        self.bar.label = f"{phase:<5}"
        if phase != "merge" and done > self.bar.pos:
            self.bar.update(done - self.bar.pos)
        self.bar.render_progress()

    def _rate(self, _item: Any) -> str:
        elapsed = time.monotonic() - self.started
        return f"{self.bar.pos / elapsed:.0f} {self.noun}/s" if elapsed > 0.5 and self.bar.pos else ""

    def clear(self) -> None:
        """Erase the bar's line (and show the cursor the bar hid), so that a message can follow;
        the next update draws the bar again."""
        if self.bar is not None:
            sys.stderr.write("\r\x1b[K\x1b[?25h")
            sys.stderr.flush()


@contextlib.contextmanager
def _interruptible(progress: _Progress, resume: str) -> Iterator[None]:
    """Run a writer so that Ctrl-C (SIGINT) or SIGTERM stops it cleanly.

    SIGTERM is turned into the same interrupt as SIGINT; the library stops its
    workers and says what it committed.  The progress line is cleared, one line
    says how many articles were committed and how to resume, and the exit code
    is 130 (SIGINT) or 143 (SIGTERM), as a shell reports a process those
    signals killed.
    """
    from newsarc.ingest import Interrupted

    received = {"signal": signal.SIGINT}

    def on_sigterm(signum: int, _frame: Any) -> None:
        received["signal"] = signum
        raise KeyboardInterrupt

    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, on_sigterm)
    unraisable = sys.unraisablehook
    sys.unraisablehook = functools.partial(_send_lost_interrupt_again, unraisable)
    try:
        yield
    except Interrupted as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C cannot cut the message
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        progress.clear()
        noun = "article" if exc.committed == 1 else "articles"
        click.echo(f"newsarc: interrupted: {exc.committed} {noun} committed; {resume}", err=True)
        sys.exit(128 + received["signal"])
    finally:
        sys.unraisablehook = unraisable
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _send_lost_interrupt_again(previous: Callable[[Any], None], unraisable: Any) -> None:
    """An ``sys.unraisablehook``: an interrupt that came while a finalizer (a ``__del__``) ran is
    swallowed by Python, and the work would go on; it is sent to the main thread again, from a
    thread, once the finalizer is done.  Other unraisable exceptions go to ``previous``."""
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        previous(unraisable)
        return
    import threading

    again = threading.Timer(0.05, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    again.daemon = True
    again.start()


def _printable(text: str) -> str:
    from newsarc.render import sanitize_line

    return sanitize_line(text)


# ----------------------------------------------------------------------------- search


@cli.command(cls=QueryCommand)
@click.argument("query", nargs=-1, required=True)
@_filter_options
@click.option("--sort", type=click.Choice(["relevance", "newest", "oldest"]), default="relevance",
              show_default=True, help="Order of hits.")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="Hits per page.")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True, help="Page number.")
@click.option("--all", "show_all", is_flag=True, help="Every hit, no paging.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one object per hit.")
@click.option("--no-aliases", is_flag=True, help="Match words literally, not through aliases (普丁 for 普京).")
@click.option("--all-versions", is_flag=True,
              help="Match every version of an article, not only the newest; say which versions matched.")
@click.option("--facets", is_flag=True,
              help='Also count all hits per outlet and per year (after the hits; --json: a last '
                   'record {"facets": …}).')
@_color_option
@_data_option
@click.pass_context
@_reports_errors
def search(ctx: click.Context, query: tuple[str, ...], sources: tuple[str, ...], since: str | None,
           until: str | None, sort: str, limit: int, page: int, show_all: bool, as_json: bool,
           no_aliases: bool, all_versions: bool, facets: bool, color: str, data: Path | None) -> None:
    """Search the archive.  Words are ANDed.

    \b
    Query language:
      普京 朝鲜            both words (in either script: 朝鮮 matches 朝鲜)
      普京 OR 普丁          either word
      普京 -朝鲜, NOT 朝鲜  exclude a word
      "俄罗斯总统普京"       an exact phrase
      (普京 OR 习近平) 朝鲜  grouping
      title:金正恩 source:voa author:林兰
    A word also matches its aliases (普京: 普丁; 朝鲜: 北韩), unless --no-aliases.
    A word starting with one "-" is an exclusion unless it is -n or -h; a
    mistyped --option is an error.  Put words after "--" to take them literally.

    \b
    Examples:
      newsarc search 普京 朝鲜 -乌克兰
      newsarc search 香港 --source hkcnews --since 2019-06 --until 2019-12 --sort newest
      newsarc search Tu-160 --json --all
      newsarc search -- -普京 OR 普丁     (words after -- are never options)

    Exit code 0 with hits, 1 with none, 2 for a malformed query or a usage error.
    """
    from newsarc.engine import embedded_dir, open_engine
    from newsarc.query import parse_query
    from newsarc.render import render_hits, render_hits_json, render_search_summary
    from newsarc.search import SearchOptions

    options = SearchOptions(sources=sources, since=since, until=until, sort=sort,
                            limit=None if show_all else limit, page=1 if show_all else page,
                            all_versions=all_versions)
    text = " ".join(query)
    node = parse_query(text)
    engine = open_engine(_data_dir(ctx, data))
    if all_versions:
        embedded_dir(engine, "search --all-versions")
    counts = None
    if facets:
        from newsarc.research import search_with_facets

        result, counts = search_with_facets(embedded_dir(engine, "search --facets"), text, options,
                                            aliases=not no_aliases)
    else:
        result = engine.search(node, options, aliases=not no_aliases)
    out = _stdout()
    if as_json:
        render_hits_json(result.hits, out)
        if counts is not None:
            from newsarc.render import render_facets_json

            render_facets_json(counts, out)
    else:
        style = _style(out, color)
        render_hits(result.hits, out, style)
        if counts is not None and counts.total:
            from newsarc.render import render_facets

            out.write("\n")
            render_facets(counts, out, style)
    out.flush()
    render_search_summary(result.total, result.elapsed, result.offset + 1,
                          result.offset + len(result.hits), sys.stderr, _style(sys.stderr, color))
    sys.exit(0 if result.total else 1)


# ----------------------------------------------------------------------------- show


@cli.command()
@click.argument("article_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="The record as one JSON object (one line per article).")
@click.option("--html", "as_html", is_flag=True,
              help="The original article HTML, read again from its source file.")
@click.option("--query", "-q", metavar="QUERY",
              help="Highlight every match of QUERY (as search matches it) and open the pager at the first.")
@click.option("--no-aliases", is_flag=True, help="With --query: match words literally, not through aliases.")
@_color_option
@_data_option
@click.pass_context
@_reports_errors
def show(ctx: click.Context, article_ids: tuple[str, ...], as_json: bool, as_html: bool, query: str | None,
         no_aliases: bool, color: str, data: Path | None) -> None:
    """Show articles: each ID is an id or any unique prefix of at least 4 hex digits.

    \b
    Examples:
      newsarc show 4826                  the clean article, through a pager on a terminal
      newsarc show 4826 16c9 --json      one JSON record per line
      newsarc show 4826 --html           the original HTML, read again from its file
      newsarc show 4826 --query 普京      every match of the query highlighted
    """
    from newsarc.render import render_article, render_article_json, sanitize
    from newsarc.store import open_store

    if as_json and as_html:
        raise click.UsageError("--json and --html exclude each other")
    if query is not None and as_html:
        raise click.UsageError("--query marks the article text; it does not work with --html")
    data_dir = _data_dir(ctx, data)
    if _bound(data_dir):
        if query is not None:
            from newsarc.engine import embedded_dir, open_engine

            embedded_dir(open_engine(data_dir), "show --query")
        articles, htmls = _cluster_articles(data_dir, article_ids, as_html, color)
    else:
        with open_store(data_dir) as store:
            full_ids = []
            for article_id in article_ids:
                try:
                    full_ids.append(store.resolve(article_id))
                except AmbiguousArticle as exc:
                    _exit_ambiguous(store, exc, color)
            if as_html:  # not stored: parsed again from the source file, if unchanged
                htmls = [store.original_html(full_id) for full_id in full_ids]
            else:
                articles = [store.get(full_id) for full_id in full_ids]
    out = _stdout()
    if as_html:
        for html in htmls:
            out.write(sanitize(html) if sys.stdout.isatty() else html)
            if not html.endswith("\n"):
                out.write("\n")
        out.flush()
        return
    marks = None
    if query is not None:
        from newsarc.research import highlight_articles

        marks = highlight_articles(data_dir, articles, query, aliases=not no_aliases)
        for article, found in zip(articles, marks, strict=True):
            noun = "match" if found.count == 1 else "matches"
            click.echo(f"{found.count} {noun} of {_printable(query)} in {article.id}", err=True)
    if as_json and marks is not None:
        from newsarc.render import render_json_lines

        render_json_lines(({**article.to_dict(), "highlights": found.to_dict()}
                           for article, found in zip(articles, marks, strict=True)), out)
    elif as_json:
        for article in articles:
            render_article_json(article, out)
    else:
        from newsarc.render import page

        style = _style(out, color)
        buffer = io.StringIO()
        first: int | None = None
        for number, article in enumerate(articles):
            if number:
                buffer.write("\n" + "─" * 40 + "\n\n")
            before = buffer.getvalue().count("\n")
            line = render_article(article, buffer, style, marks=marks[number] if marks else None)
            if first is None and line is not None:
                first = before + line
        page(buffer.getvalue(), out, line=first)
    out.flush()


def _cluster_articles(data_dir: Path, article_ids: tuple[str, ...], as_html: bool,
                      color: str) -> tuple[list, list[str]]:
    """`show` on a cluster-bound archive: the articles, or with ``as_html`` their original HTML."""
    from newsarc import opensearch

    with opensearch.open_cluster(data_dir) as cluster:
        full_ids = []
        for article_id in article_ids:
            try:
                full_ids.append(opensearch.resolve(cluster, article_id))
            except AmbiguousArticle as exc:
                _exit_ambiguous_on(opensearch.summaries(cluster, exc.candidates), exc, color)
        if as_html:
            return [], [opensearch.original_html(cluster, full_id) for full_id in full_ids]
        return [opensearch.get_article(cluster, full_id) for full_id in full_ids], []


# ----------------------------------------------------------------------------- explore


def _explore_id(func: Callable, data_dir: Path, article_id: str, limit: int, color: str) -> Any:
    """Run ``func(article_id, limit)`` (an engine's method); an ambiguous id lists the candidates
    and exits 1."""
    from newsarc.store import open_store

    try:
        return func(article_id, limit)
    except AmbiguousArticle as exc:
        if _bound(data_dir):
            from newsarc import opensearch

            with opensearch.open_cluster(data_dir) as cluster:
                _exit_ambiguous_on(opensearch.summaries(cluster, exc.candidates), exc, color)
        with open_store(data_dir) as store:
            _exit_ambiguous(store, exc, color)


def _exit_ambiguous(store: Any, exc: AmbiguousArticle, color: str) -> None:
    """List the articles an ambiguous id prefix matches on stderr, and exit 1."""
    _exit_ambiguous_on(store.summaries(exc.candidates), exc, color)


def _exit_ambiguous_on(summaries: dict, exc: AmbiguousArticle, color: str) -> None:
    """List the candidates of an ambiguous id prefix (``summaries`` by id) on stderr, and exit 1."""
    from newsarc.render import render_candidates

    click.echo(f"newsarc: {exc}:", err=True)
    render_candidates(
        [(s.id, s.published[:10], s.title) for s in (summaries[c] for c in exc.candidates if c in summaries)],
        sys.stderr, _style(sys.stderr, color),
    )
    sys.exit(1)


def _article_list_command(default_limit: int, limit_help: str, json_help: str) -> Callable:
    """The shared shape of `similar` and `keywords`: ID, -n/--limit, --json, --color, --data."""

    def decorate(func: Callable) -> Callable:
        func = click.pass_context(_data_option(_color_option(_reports_errors(func))))
        func = click.option("--json", "as_json", is_flag=True, help=json_help)(func)
        func = click.option("-n", "--limit", type=click.IntRange(min=1), default=default_limit,
                            show_default=True, help=limit_help)(func)
        return cli.command()(click.argument("article_id", metavar="ID")(func))

    return decorate


@_article_list_command(10, "How many articles.", "JSON Lines, one object per hit (as search).")
def similar(ctx: click.Context, article_id: str, limit: int, as_json: bool, color: str,
            data: Path | None) -> None:
    """The articles most like article ID (an id or a unique prefix), best first.

    Ranked by the article's characteristic words (see `newsarc keywords`); the
    article itself and same-titled copies from its outlet are left out.

    \b
    Examples:
      newsarc similar 4826
      newsarc similar 4826 -n 20 --json

    Exit code 0 with hits, 1 with none or for an unknown id.
    """
    from newsarc.engine import open_engine
    from newsarc.render import render_hits, render_hits_json, render_no_hits

    data_dir = _data_dir(ctx, data)
    _full, hits = _explore_id(open_engine(data_dir).similar, data_dir, article_id, limit, color)
    out = _stdout()
    if as_json:
        render_hits_json(hits, out)
    else:
        render_hits(hits, out, _style(out, color))
    out.flush()
    if not hits:
        render_no_hits(sys.stderr, _style(sys.stderr, color))
    sys.exit(0 if hits else 1)


@cli.command(cls=QueryCommand)
@click.argument("query", nargs=-1, required=True)
@click.option("--by", type=click.Choice(["year", "month", "day"]), default="month", show_default=True,
              help="Length of a period.")
@_filter_options
@click.option("--split", type=click.Choice(["source"]), default=None,
              help="One series per outlet: a table (--json: period, source, count).")
@click.option("--json", "as_json", is_flag=True, help='JSON Lines: {"period": "2023-09", "count": 12}.')
@click.option("--no-aliases", is_flag=True, help="Match words literally, not through aliases.")
@_color_option
@_data_option
@click.pass_context
@_reports_errors
def timeline(ctx: click.Context, query: tuple[str, ...], by: str, sources: tuple[str, ...],
             since: str | None, until: str | None, split: str | None, as_json: bool, no_aliases: bool,
             color: str,
             data: Path | None) -> None:
    """How many articles match QUERY per month (or year, day) of publication, as a bar chart.

    The same query language, exclusions and filters as `newsarc search`; a
    period is the article's own publication date (the outlet's time zone).
    The axis runs from --since (else the first hit) to --until (else the last
    hit), periods without hits included; at most 10,000 periods.

    \b
    Examples:
      newsarc timeline 普京 -朝鲜
      newsarc timeline 香港 --source hkcnews --by day --since 2019-06 --until 2019-07
      newsarc timeline 普京 --by year --json

    Exit code 0 with hits, 1 with none ("no hits" on stderr), 2 for a malformed
    query or a usage error.
    """
    from newsarc.engine import embedded_dir, open_engine
    from newsarc.query import parse_query
    from newsarc.render import render_no_hits, render_timeline, render_timeline_json
    from newsarc.search import SearchOptions

    options = SearchOptions(sources=sources, since=since, until=until)
    text = " ".join(query)
    node = parse_query(text)
    engine = open_engine(_data_dir(ctx, data))
    if split == "source":
        _timeline_by_source(embedded_dir(engine, "timeline --split source"), text, by, options,
                            as_json, no_aliases, color)
        return
    result = engine.timeline(node, by, options, aliases=not no_aliases)
    out = _stdout()
    if as_json:
        render_timeline_json(result.rows, out)
    else:
        render_timeline(result.rows, out, _style(out, color))
    out.flush()
    if result.undated:
        click.echo(f"{result.undated} matching articles have no publication date", err=True)
    if not result.total:
        render_no_hits(sys.stderr, _style(sys.stderr, color))
    sys.exit(0 if result.total else 1)


def _timeline_by_source(data_dir: Path, text: str, by: str, options: Any, as_json: bool,
                        no_aliases: bool, color: str) -> None:
    """``timeline --split source``: the table or JSON Lines, and the exit code."""
    from newsarc.render import render_json_lines, render_timeline_split
    from newsarc.research import timeline_by_source

    result = timeline_by_source(data_dir, text, by, options, aliases=not no_aliases)
    out = _stdout()
    if as_json:
        render_json_lines(({"period": p, "source": s, "count": n} for p, s, n in result.rows), out)
    else:
        render_timeline_split(result.rows, result.sources, out, _style(out, color))
    out.flush()
    if result.undated:
        click.echo(f"{result.undated} matching articles have no publication date", err=True)
    sys.exit(0 if result.total else 1)


# ----------------------------------------------------------------------------- kwic


@cli.command(cls=QueryCommand)
@click.argument("query", nargs=-1, required=True)
@_filter_options
@click.option("--width", type=click.IntRange(0, 1000), default=None, metavar="N",
              help="Characters of context on each side [default: 30].")
@click.option("--sort", type=click.Choice(["date", "source", "left", "right"]), default="date",
              show_default=True, help="Order: oldest article first, by outlet, or by the left/right context.")
@click.option("--cross-paragraphs", is_flag=True, help="Let contexts run on into the next or previous paragraph.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: id, published, source, title, left, match, right, url.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines with the same fields as --csv.")
@click.option("--no-aliases", is_flag=True, help="Match words literally, not through aliases.")
@_color_option
@_data_option
@click.pass_context
@_reports_errors
def kwic(ctx: click.Context, query: tuple[str, ...], sources: tuple[str, ...], since: str | None,
         until: str | None, width: int | None, sort: str, cross_paragraphs: bool, as_csv: bool,
         as_json: bool, no_aliases: bool, color: str, data: Path | None) -> None:
    """Keyword in context: every occurrence of the query's words in the hits' text, one per line.

    \b
    Examples:
      newsarc kwic 普京                     朝鲜 matches 朝鮮, 普京 matches 普丁 too
      newsarc kwic 香港 --source rfi --sort left
      newsarc kwic 崔善姬 --width 20 --csv > kwic.csv
    Same query language and filters as `newsarc search`.  Exit code 0 with
    lines, 1 with none, 2 for a malformed query.
    """
    from newsarc.records import KWIC_FIELDS
    from newsarc.render import render_csv, render_json_lines, render_kwic, render_kwic_summary
    from newsarc.research import KWIC_WIDTH
    from newsarc.research import kwic as run_kwic
    from newsarc.search import SearchOptions

    if as_csv and as_json:
        raise click.UsageError("--csv and --json exclude each other")
    options = SearchOptions(sources=sources, since=since, until=until)
    result = run_kwic(_embedded(_data_dir(ctx, data), "kwic"), " ".join(query), options,
                      width=KWIC_WIDTH if width is None else width, sort=sort,
                      cross_paragraphs=cross_paragraphs, aliases=not no_aliases)
    out = _stdout()
    if as_csv:
        render_csv((line.to_dict() for line in result.lines), KWIC_FIELDS, _utf8(out))
    elif as_json:
        render_json_lines((line.to_dict() for line in result.lines), out)
    else:
        render_kwic(result.lines, out, _style(out, color))
    out.flush()
    render_kwic_summary(len(result.lines), result.articles, result.matched, result.elapsed, sys.stderr,
                        _style(sys.stderr, color))
    sys.exit(0 if result.lines else 1)


@_article_list_command(20, "How many terms.", 'JSON Lines: {"term": …, "weight": …}.')
def keywords(ctx: click.Context, article_id: str, limit: int, as_json: bool, color: str,
             data: Path | None) -> None:
    """The characteristic terms of article ID, with TF-IDF weights (the best is 1).

    Document frequencies are the archive's own; function words, single
    characters and numbers are left out.

    \b
    Examples:
      newsarc keywords 4826
      newsarc keywords 4826 -n 5 --json
    """
    from newsarc.engine import open_engine
    from newsarc.render import render_keywords, render_keywords_json

    data_dir = _data_dir(ctx, data)
    _full, rows = _explore_id(open_engine(data_dir).keywords, data_dir, article_id, limit, color)
    out = _stdout()
    if as_json:
        render_keywords_json(rows, out)
    else:
        render_keywords(rows, out, _style(out, color))
    out.flush()


# ----------------------------------------------------------------------------- stats / export


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@_color_option
@_data_option
@click.pass_context
@_reports_errors
def stats(ctx: click.Context, as_json: bool, color: str, data: Path | None) -> None:
    """Articles per outlet and per year, date range, top authors, size on disk.

    \b
    Examples:
      newsarc stats
      newsarc stats --json
    """
    from newsarc.engine import open_engine
    from newsarc.render import render_stats, render_stats_json
    from newsarc.store import archive_size

    data_dir = _data_dir(ctx, data)
    figures = open_engine(data_dir).stats()
    if not _bound(data_dir):  # a cluster's size is the cluster's (in its figures)
        figures["size_bytes"] = archive_size(data_dir)
    out = _stdout()
    if as_json:
        render_stats_json(figures, out)
    else:
        render_stats(figures, out, _style(out, color))


# ----------------------------------------------------------------------------- versions


def _with_id(func: Callable, data_dir: Path, article_id: str, **kwargs: Any) -> Any:
    """Run ``func(data_dir, article_id, **kwargs)``; an ambiguous id lists the candidates and exits 1."""
    from newsarc.store import open_store

    try:
        return func(data_dir, article_id, **kwargs)
    except AmbiguousArticle as exc:
        with open_store(data_dir) as store:
            _exit_ambiguous(store, exc)


@cli.command()
@click.argument("article_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one object per version.")
@_color_option
@_data_option
@click.pass_context
@_reports_errors
def history(ctx: click.Context, article_id: str, as_json: bool, color: str, data: Path | None) -> None:
    """Every version of article ID, oldest first: archive time, text length, headline, what changed.

    \b
    Examples:
      newsarc history 31b22bacdfd6
      newsarc history 31b2 --json
    """
    from newsarc.history import history as run_history
    from newsarc.render import render_history, render_history_json

    _full, versions = _with_id(run_history, _embedded(_data_dir(ctx, data), "history"), article_id)
    out = _stdout()
    if as_json:
        render_history_json(versions, out)
    else:
        render_history(versions, out, _style(out, color))
    out.flush()


@cli.command()
@click.argument("article_id", metavar="ID")
@click.option("--from", "old", type=click.IntRange(min=1), default=None, metavar="N",
              help="The older version (default: the one before the newest).")
@click.option("--to", "new", type=click.IntRange(min=1), default=None, metavar="M",
              help="The newer version (default: the newest).")
@click.option("--json", "as_json", is_flag=True,
              help='JSON Lines of edit operations: {"field": "title", "op": "delete", "text": "…"}.')
@_color_option
@_data_option
@click.pass_context
@_reports_errors
def diff(ctx: click.Context, article_id: str, old: int | None, new: int | None, as_json: bool,
         color: str, data: Path | None) -> None:
    """What changed in article ID between two versions (numbers as `newsarc history` shows them).

    With colour (a terminal), deleted and inserted characters are coloured
    inline; otherwise the unified form of `diff -u`, paragraph by paragraph.

    \b
    Examples:
      newsarc diff 31b22bacdfd6              the two newest versions
      newsarc diff 31b22bacdfd6 --from 1 --to 3
      newsarc diff 31b2 --json               the edit operations
    """
    from newsarc.history import diff as run_diff
    from newsarc.render import render_diff, render_edit_ops_json

    before, after, comparison = _with_id(run_diff, _embedded(_data_dir(ctx, data), "diff"), article_id,
                                        old=old, new=new)
    out = _stdout()
    if as_json:
        render_edit_ops_json(comparison.edit_ops(), out)
    else:
        render_diff(before, after, comparison.edit_ops(), out, _style(out, color))
    out.flush()


@cli.command()
@click.option("--since", metavar="DATE",
              help="Changes first archived on or after DATE: YYYY-MM-DD, YYYY-MM (its first day) or YYYY "
                   "(1 January), in UTC.")
@click.option("--until", metavar="DATE",
              help="Changes first archived on or before DATE: YYYY-MM-DD, YYYY-MM (the whole month) or "
                   "YYYY (the whole year), in UTC.")
@click.option("--source", "sources", multiple=True, metavar="KEY", shell_complete=_complete_sources,
              help="Only this outlet (repeatable): its key (voa, bbc, rfi, dw, …) or its name (美国之音).")
@click.option("--headlines", is_flag=True, help="Only articles whose headline changed.")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one object per changed article.")
@_color_option
@_data_option
@click.pass_context
@_reports_errors
def changes(ctx: click.Context, since: str | None, until: str | None, sources: tuple[str, ...],
            headlines: bool, limit: int | None, as_json: bool, color: str, data: Path | None) -> None:
    """The articles whose headline or text changed between versions, biggest change first.

    A headline rewrite ranks above a typo fix (see the README for the
    magnitude).  Exit code 0 with changes, 1 with none.

    \b
    Examples:
      newsarc changes --since 2020-07 --headlines
      newsarc changes --source zaobao -n 5 --json
    """
    from newsarc.history import changes as run_changes
    from newsarc.render import render_changes, render_changes_json

    found = run_changes(_embedded(_data_dir(ctx, data), "changes"), since=since, until=until, sources=sources,
                        headlines=headlines)
    if limit is not None:
        found = found[:limit]
    out = _stdout()
    if as_json:
        render_changes_json(found, out)
    else:
        render_changes(found, out, _style(out, color))
    out.flush()
    if not found:
        click.echo("no changes", err=True)
    sys.exit(0 if found else 1)


#: The columns of ``export --format csv`` unless --fields says otherwise.
CSV_FIELDS = ("id", "published", "source", "source_name", "title", "authors", "url", "text")


#: The fields ``export --versions`` adds to each record (see :func:`newsarc.history.version_records`).
VERSION_FIELDS = ("version", "versions", "current", "first_archived")


def _fields(value: str | None, extra: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """``--fields a,b,c`` checked against the record's fields and ``extra`` ones (a usage error
    names the unknown ones)."""
    from newsarc.records import ARTICLE_FIELDS

    if value is None:
        return None
    known = (*ARTICLE_FIELDS, *extra)
    fields = tuple(f.strip() for f in value.split(",") if f.strip())
    unknown = [f for f in fields if f not in known]
    if unknown or not fields:
        raise click.BadParameter(
            f"unknown field {', '.join(unknown) or '(none given)'}; fields: {', '.join(known)}",
            param_hint="--fields",
        )
    return fields


@cli.command(cls=QueryCommand)
@click.argument("query", nargs=-1)
@_filter_options
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "opensearch"]), default="jsonl",
              show_default=True,
              help="jsonl: the records; csv: one row per article; opensearch: a _bulk NDJSON stream.")
@click.option("--fields", metavar="A,B,…",
              help="Only these record fields, in this order (jsonl, csv) [csv default: "
                   "id,published,source,source_name,title,authors,url,text].")
@click.option("--bom", is_flag=True, help="Begin the CSV with a UTF-8 byte-order mark (for spreadsheet programs).")
@click.option("--no-aliases", is_flag=True, help="Match query words literally, not through aliases.")
@click.option("--mapping", is_flag=True, help="Print the OpenSearch/Elasticsearch index mapping (JSON).")
@click.option("--index", "index_name", default="newsarc", show_default=True, metavar="NAME",
              help="Index name in the opensearch _bulk action lines.")
@click.option("--versions", "all_versions", is_flag=True,
              help="Every version of each article, oldest first, with version, versions, current and "
                   "first_archived (jsonl, csv).")
@_data_option
@click.pass_context
@_reports_errors
def export(ctx: click.Context, query: tuple[str, ...], sources: tuple[str, ...], since: str | None,
           until: str | None, fmt: str, fields: str | None, bom: bool, no_aliases: bool, mapping: bool,
           index_name: str, all_versions: bool, data: Path | None) -> None:
    """Export records: every one, or exactly the hits of QUERY (same language and filters as search).

    Records come oldest first; --format opensearch writes a _bulk stream with
    newsarc's own tokens in title_tokens/body_tokens/recall_tokens, --mapping
    the index mapping those documents fit (PUT /newsarc); --versions writes
    every version of each article, oldest first.  Exit code 1 when a query
    or filter matches nothing.

    \b
    Examples:
      newsarc export > backup.jsonl                every record (the fields of `show --json`)
      newsarc export 香港 --source rfi --format csv --bom > hk.csv
      newsarc export 普京 --since 2020 --fields id,title,url
      newsarc export --versions > every-version.jsonl
      newsarc export --format opensearch --index news > news.ndjson
      newsarc export --mapping > mapping.json
    """
    from newsarc.render import render_json
    from newsarc.research import export_records
    from newsarc.search import SearchOptions

    if mapping:
        from newsarc.opensearch import index_mapping

        render_json(index_mapping(), _stdout(), indent=2)
        return
    chosen = _fields(fields, VERSION_FIELDS if all_versions else ())
    if chosen is not None and fmt == "opensearch":
        raise click.UsageError("--fields does not apply to --format opensearch")
    if all_versions and fmt == "opensearch":
        raise click.UsageError("--versions does not apply to --format opensearch (one document per article)")
    if bom and fmt != "csv":
        raise click.UsageError("--bom applies to --format csv only")
    data_dir = _data_dir(ctx, data)
    text = " ".join(query)
    options = SearchOptions(sources=sources, since=since, until=until)
    damaged: list[str] = []

    def skip(article_id: str, reason: str) -> None:
        damaged.append(article_id)
        click.echo(f"newsarc: skipped {reason}", err=True)

    if _bound(data_dir):
        from newsarc.engine import open_engine

        if text.strip() or sources or since or until or all_versions:
            _embedded(data_dir, "export with a query, filters or --versions")
        records = open_engine(data_dir).records()
    else:
        records = export_records(data_dir, text, options, aliases=not no_aliases, on_damage=skip)
    if all_versions:
        from newsarc.history import version_records

        records = version_records(data_dir, records)
    out = _stdout()
    if fmt == "opensearch":
        from newsarc.ingest import archive_segmenter
        from newsarc.opensearch import write_bulk

        count = write_bulk(records, out, archive_segmenter(data_dir), index_name)
    elif fmt == "csv":
        from newsarc.render import render_csv

        count = render_csv(records, chosen or CSV_FIELDS, _utf8(out), bom=bom)
    else:
        from newsarc.render import render_json_lines

        count = render_json_lines(records, out, chosen)
    out.flush()
    if damaged:
        click.echo(
            f"newsarc: {len(damaged)} damaged records not exported (see `newsarc check`)", err=True
        )
        sys.exit(1)
    if (text.strip() or sources or since or until) and not count:
        click.echo("newsarc: no articles match", err=True)
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@_wait_option
@_data_option
@click.pass_context
@_reports_errors
def reindex(ctx: click.Context, as_json: bool, wait: float, data: Path | None) -> None:
    """Re-segment every stored article and rebuild the search index (after a dictionary change).

    \b
    Example:
      newsarc reindex
      newsarc reindex --json
      newsarc reindex --wait 0       fail at once if an ingest is writing
    """
    from newsarc.ingest import reindex as run_reindex

    progress = _Progress("articles")

    def on_message(message: str) -> None:
        progress.clear()
        click.echo(_printable(message), err=True)

    data_dir = _data_dir(ctx, data)
    started = time.perf_counter()
    with _interruptible(progress, "run `newsarc reindex` again (or any ingest) to finish"):
        if _bound(data_dir):
            from newsarc.opensearch import reindex as cluster_reindex

            count = cluster_reindex(data_dir)
        else:
            count = run_reindex(data_dir, on_progress=progress, wait=wait, on_wait=_on_wait(wait),
                                on_message=on_message).reindexed
    progress.clear()
    if as_json:
        import json

        click.echo(json.dumps({"reindexed": count, "seconds": round(time.perf_counter() - started, 3)}))
    click.echo(f"re-indexed {count} articles", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout.")
@_data_option
@click.pass_context
@_reports_errors
def check(ctx: click.Context, as_json: bool, data: Path | None) -> None:
    """Verify the whole archive: store pages, every record, every index segment's checksums,
    and that the index holds each stored article exactly once.

    Prints each problem on one line with what repairs it; exits 0 when the
    archive is sound, 1 when it is damaged.  Changes nothing.

    \b
    Example:
      newsarc check
      newsarc check --json
    """
    from newsarc.check import check_archive
    from newsarc.render import sanitize_line

    report = check_archive(_embedded(_data_dir(ctx, data), "check"))
    if as_json:
        import json

        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        for p in report.problems:
            click.echo(f"{p.part}: {sanitize_line(p.problem)} (repair: {p.repair})")
    if report.ok:
        click.echo(
            f"archive ok: {report.articles} articles, {report.records} records and "
            f"{report.versions} versions read, {report.segments} index segments verified",
            err=True,
        )
        return
    count = len(report.problems)
    click.echo(f"newsarc: the archive is damaged: {count} problem{'s' * (count != 1)}", err=True)
    sys.exit(1)


# ----------------------------------------------------------------------------- serve


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback lets other machines read the archive.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port; the address is printed on stderr).")
@click.option("--open", "open_browser", is_flag=True, help="Open the search page in a web browser.")
@_data_option
@click.pass_context
@_reports_errors
def serve(ctx: click.Context, host: str, port: int, open_browser: bool, data: Path | None) -> None:
    """Serve a read-only web interface to the archive (search, articles, timeline, stats).

    Every page is also JSON (/search.json, /article/ID.json, /timeline.json,
    /stats.json).  Runs until interrupted; an ingest of the same archive may
    run meanwhile, and new articles show on the next request.

    \b
    Examples:
      newsarc serve --open              http://127.0.0.1:8000/ in a browser
      newsarc --data team serve --port 0   any free port (printed on stderr)
    """
    from newsarc.web import listen, run_server

    data_dir = _embedded(_data_dir(ctx, data), "serve")
    server = listen(data_dir, host, port)
    if not server.loopback:
        click.echo(f"newsarc: warning: listening on {_printable(host)}: anyone who can reach this "
                   "machine can read the archive (no login, no TLS)", err=True)
    click.echo(f"newsarc: serving {_printable(str(data_dir))} at {server.url} (Ctrl-C to stop)", err=True)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    run_server(server)


# ----------------------------------------------------------------------------- cluster


@cli.command()
@click.option("--opensearch", "url", envvar="NEWSARC_OPENSEARCH_URL", required=True, metavar="URL",
              help="The cluster: https://user:password@host:9200 (several nodes: comma-separated) "
                   "[env NEWSARC_OPENSEARCH_URL].")
@click.option("--index", "index_name", default="newsarc", show_default=True, metavar="NAME",
              help="The index (created with newsarc's mapping when it does not exist).")
@click.option("--ca-file", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="CA certificate(s) that sign the cluster's TLS certificate.")
@click.option("--user", "username", metavar="NAME", help="Basic-auth user (or user:password@ in the URL).")
@click.option("--shards", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Primary shards of a new index.")
@click.option("--replicas", type=click.IntRange(0, 8), default=None,
              help="Replicas of a new index [default: the cluster's].")
@click.option("--save-password", is_flag=True,
              help="Keep the password in DATA/opensearch.secret (mode 0600); otherwise give it each "
                   "time through NEWSARC_OPENSEARCH_URL or NEWSARC_OPENSEARCH_PASSWORD.")
@_data_option
@click.pass_context
@_reports_errors
def init(ctx: click.Context, url: str, index_name: str, ca_file: str | None, username: str | None,
         shards: int, replicas: int | None, save_password: bool, data: Path | None) -> None:
    """Bind the archive directory to an OpenSearch index: from then on every command uses the cluster.

    The directory keeps no articles: only where the cluster is (engine.json,
    no password unless --save-password) and the segmentation dictionary.

    \b
    Examples:
      newsarc init --opensearch https://alice@search.example.org:9200 --ca-file ca.pem
      newsarc --data try init --opensearch http://127.0.0.1:9250,http://127.0.0.1:9251 --shards 3
    """
    from newsarc.opensearch import init_cluster

    data_dir = _data_dir(ctx, data)
    password = os.environ.get("NEWSARC_OPENSEARCH_PASSWORD")
    cluster, created = init_cluster(data_dir, url, index_name, ca_file=ca_file, username=username,
                                    password=password, shards=shards, replicas=replicas,
                                    keep_password=save_password)
    with cluster:
        count = cluster.check()
    what = "created" if created else "uses the existing"
    click.echo(f"{data_dir} is bound to {_printable(cluster.config.url)}: {what} index "
               f"{_printable(index_name)} ({count} articles)", err=True)


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes for segmentation [default: CPU count].")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@_data_option
@click.pass_context
@_reports_errors
def push(ctx: click.Context, dest: Path, workers: int | None, as_json: bool, data: Path | None) -> None:
    """Copy this (embedded) archive into DEST, an archive directory bound to a cluster.

    The stored records are sent, not the files parsed again; the newer version
    of an article wins on the cluster.  Exit code 1 if the cluster refused any.

    \b
    Example:
      newsarc push team                 ./data into the cluster-bound archive ./team
    """
    from newsarc.opensearch import push as run_push
    from newsarc.render import render_ingest_summary

    summary = run_push(_data_dir(ctx, data), dest, workers=workers)
    if as_json:
        import json

        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
    render_ingest_summary(summary.as_dict(), sys.stderr)
    for aid, reason in summary.failed[:10]:
        click.echo(f"newsarc: the cluster refused article {aid}: {_printable(reason)}", err=True)
    if summary.failed:
        sys.exit(1)


# ----------------------------------------------------------------------------- entry point


def _stdout() -> Any:
    return sys.stdout


def _utf8(out: Any) -> Any:
    """``out`` writing UTF-8 whatever the locale (CSV is UTF-8 by contract)."""
    encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "")
    if encoding != "utf8" and hasattr(out, "reconfigure"):
        out.reconfigure(encoding="utf-8")
    return out


def main() -> None:
    """Console-script entry point: runs the CLI; a closed pipe is not an error."""
    try:
        cli(prog_name="newsarc")
    except BrokenPipeError:
        _exit_quietly()
