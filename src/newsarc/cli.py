"""The ``newsarc`` command line: parses arguments, calls the library, renders.

Exit codes: 0 success (``search``: hits found); 1 nothing found, an unknown or
ambiguous id, rejected files, or an archive problem; 2 usage errors
(including malformed queries).  Data goes to stdout, talk to stderr.
"""

from __future__ import annotations

import functools
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from newsarc.errors import AmbiguousArticle, NewsarcError, QueryError

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


def _reports_errors(func: Callable) -> Callable:
    """Turn newsarc's errors into one line on stderr and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
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
            raise
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


def _style(stream: Any = None):  # type: ignore[no-untyped-def]
    from newsarc.render import style_for

    return style_for(stream or sys.stdout)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@_data_option
@click.version_option(package_name="newsarc")
def cli(data: Path | None) -> None:
    """newsarc: archive and search Chinese-language news.

    \b
    newsarc ingest seeds/          parse, segment and index archive files
    newsarc search 普京 朝鲜        ranked hits with highlighted snippets
    newsarc show ID                the clean article
    """


# ----------------------------------------------------------------------------- ingest


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dict", "user_dict", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Add a jieba-format user dictionary to the archive (kept in DATA/userdict.txt).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes for parsing and segmentation [default: CPU count].")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@click.option("--wait", "wait", type=click.FloatRange(min=0), default=120, show_default=True,
              metavar="SECONDS",
              help="How long to wait for another ingest writing the same archive (0: fail at once).")
@_data_option
@click.pass_context
@_reports_errors
def ingest(ctx: click.Context, paths: tuple[Path, ...], user_dict: Path | None, workers: int | None,
           as_json: bool, wait: float, data: Path | None) -> None:
    """Parse, segment and index archive files and folders (recursively).

    Idempotent: unchanged files are skipped, and an article already archived is
    replaced only by a newer version (a later archive timestamp).  Files that are
    not archive files are reported on stderr, one line each; the rest is still
    ingested.  Exit code 1 if any file was rejected.
    """
    from newsarc.ingest import add_user_dictionary
    from newsarc.ingest import ingest as run_ingest
    from newsarc.render import render_ingest_summary, style_for

    data_dir = _data_dir(ctx, data)
    if user_dict is not None:
        added = add_user_dictionary(data_dir, user_dict)
        click.echo(f"dictionary: {added} new words from {user_dict}", err=True)
    err_style = style_for(sys.stderr)
    bar = _ProgressBar() if sys.stderr.isatty() else None

    def on_reject(path: str, reason: str) -> None:
        if bar:
            bar.clear()
        click.echo(f"{_printable(path)}: {_printable(reason)}", err=True)

    def on_wait(pid: int | None) -> None:
        who = f"PID {pid}" if pid is not None else "another process"
        click.echo(f"waiting for the archive lock held by {who}… (up to {wait:g} s; --wait SECONDS)",
                   err=True)

    def on_message(message: str) -> None:
        click.echo(_printable(message), err=True)

    if _bound(data_dir):
        from newsarc.opensearch import ingest as cluster_ingest

        summary = cluster_ingest(paths, data_dir, workers=workers, on_reject=on_reject,
                                 on_progress=bar.update if bar else None, on_message=on_message)
    else:
        summary = run_ingest(
            paths, data_dir, workers=workers, on_reject=on_reject,
            on_progress=bar.update if bar else None, on_message=on_message,
            wait=wait, on_wait=on_wait,
        )
    if bar:
        bar.clear()
    if as_json:
        import json

        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
    render_ingest_summary(summary.as_dict(), sys.stderr, err_style)
    if summary.reindexed:
        click.echo(f"re-indexed {summary.reindexed} stored articles", err=True)
    failed = getattr(summary, "failed", [])
    for aid, reason in failed[:10]:
        click.echo(f"newsarc: the cluster refused article {aid}: {_printable(reason)}", err=True)
    if len(failed) > 10:
        click.echo(f"newsarc: … and {len(failed) - 10} more refused articles", err=True)
    if summary.rejected or failed:
        sys.exit(1)


class _ProgressBar:
    """A one-line progress bar on stderr (terminal only)."""

    def __init__(self) -> None:
        self.total = 0

    def update(self, done: int, total: int) -> None:
        self.total = total
        width = 30
        filled = width * done // total if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()

    def clear(self) -> None:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def _printable(text: str) -> str:
    from newsarc.render import sanitize_line

    return sanitize_line(text)


# ----------------------------------------------------------------------------- search


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("query", nargs=-1, required=True)
@click.option("--source", "sources", multiple=True, metavar="KEY",
              help="Only this outlet (repeatable): voa, bbc, rfi, dw, …")
@click.option("--since", metavar="DATE", help="Published on or after DATE (YYYY-MM-DD or YYYY-MM).")
@click.option("--until", metavar="DATE", help="Published on or before DATE (YYYY-MM-DD or YYYY-MM).")
@click.option("--sort", type=click.Choice(["relevance", "newest", "oldest"]), default="relevance",
              show_default=True, help="Order of hits.")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="Hits per page.")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True, help="Page number.")
@click.option("--all", "show_all", is_flag=True, help="Every hit, no paging.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one object per hit.")
@click.option("--no-aliases", is_flag=True, help="Match words literally, not through aliases (普丁 for 普京).")
@_data_option
@click.pass_context
@_reports_errors
def search(ctx: click.Context, query: tuple[str, ...], sources: tuple[str, ...], since: str | None,
           until: str | None, sort: str, limit: int, page: int, show_all: bool, as_json: bool,
           no_aliases: bool, data: Path | None) -> None:
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
    Exit code 0 with hits, 1 with none, 2 for a malformed query.
    """
    from newsarc.render import render_hits, render_hits_json, render_search_summary, style_for
    from newsarc.search import SearchOptions
    from newsarc.search import search as run_search

    options = SearchOptions(sources=sources, since=since, until=until, sort=sort,
                            limit=None if show_all else limit, page=1 if show_all else page)
    data_dir = _data_dir(ctx, data)
    if _bound(data_dir):
        from newsarc.opensearch import search as run_search
    result = run_search(data_dir, " ".join(query), options, aliases=not no_aliases)
    out = _stdout()
    if as_json:
        render_hits_json(result.hits, out)
    else:
        render_hits(result.hits, out, style_for(sys.stdout))
    out.flush()
    render_search_summary(result.total, result.elapsed, result.offset + 1,
                          result.offset + len(result.hits), sys.stderr, style_for(sys.stderr))
    sys.exit(0 if result.total else 1)


# ----------------------------------------------------------------------------- show


@cli.command()
@click.argument("article_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="The record as one JSON object.")
@click.option("--html", "as_html", is_flag=True,
              help="The original article HTML, read again from its source file.")
@_data_option
@click.pass_context
@_reports_errors
def show(ctx: click.Context, article_id: str, as_json: bool, as_html: bool, data: Path | None) -> None:
    """Show one article: ID is its id or any unique prefix of at least 4 hex digits."""
    from newsarc.store import open_store

    if as_json and as_html:
        raise click.UsageError("--json and --html exclude each other")
    data_dir = _data_dir(ctx, data)
    if _bound(data_dir):
        from newsarc import opensearch

        with opensearch.open_cluster(data_dir) as cluster:
            try:
                full_id = opensearch.resolve(cluster, article_id)
            except AmbiguousArticle as exc:
                _exit_ambiguous_on(opensearch.summaries(cluster, exc.candidates), exc)
            html = opensearch.original_html(cluster, full_id) if as_html else ""
            article = None if as_html else opensearch.get_article(cluster, full_id)
        _show(article, html, as_json)
        return
    with open_store(data_dir) as store:
        try:
            full_id = store.resolve(article_id)
        except AmbiguousArticle as exc:
            _exit_ambiguous(store, exc)
        html, article = "", None
        if as_html:  # not stored: parsed again from the source file, if unchanged
            html = store.original_html(full_id)
        else:
            article = store.get(full_id)
    _show(article, html, as_json)


def _show(article: Any, html: str, as_json: bool) -> None:
    """Print an article (or, without one, its original HTML) the way `show` does."""
    from newsarc.render import render_article, render_article_json, sanitize

    out = _stdout()
    if article is None:
        out.write(sanitize(html) if sys.stdout.isatty() else html)
        if not html.endswith("\n"):
            out.write("\n")
    elif as_json:
        render_article_json(article, out)
    else:
        from newsarc.render import page

        style = _style()
        buffer = io.StringIO()
        render_article(article, buffer, style)
        page(buffer.getvalue(), out, style)
    out.flush()


# ----------------------------------------------------------------------------- explore


def _explore_id(func: Callable, data_dir: Path, article_id: str, limit: int) -> Any:
    """Run ``func(data_dir, article_id, limit)`` (or, on a cluster, the function of the same name
    in ``newsarc.opensearch``); an ambiguous id lists the candidates and exits 1."""
    from newsarc.store import open_store

    bound = _bound(data_dir)
    if bound:
        from newsarc import opensearch

        func = getattr(opensearch, func.__name__)
    try:
        return func(data_dir, article_id, limit)
    except AmbiguousArticle as exc:
        if bound:
            with opensearch.open_cluster(data_dir) as cluster:
                _exit_ambiguous_on(opensearch.summaries(cluster, exc.candidates), exc)
        with open_store(data_dir) as store:
            _exit_ambiguous(store, exc)


def _exit_ambiguous(store: Any, exc: AmbiguousArticle) -> None:
    """List the articles an ambiguous id prefix matches on stderr, and exit 1."""
    _exit_ambiguous_on(store.summaries(exc.candidates), exc)


def _exit_ambiguous_on(summaries: dict, exc: AmbiguousArticle) -> None:
    from newsarc.render import render_candidates

    click.echo(f"newsarc: {exc}:", err=True)
    render_candidates(
        [(s.id, s.published[:10], s.title) for s in (summaries[c] for c in exc.candidates if c in summaries)],
        sys.stderr, _style(sys.stderr),
    )
    sys.exit(1)


def _article_list_command(default_limit: int, limit_help: str, json_help: str) -> Callable:
    """The shared shape of `similar` and `keywords`: ID, -n/--limit, --json, --data."""

    def decorate(func: Callable) -> Callable:
        func = click.pass_context(_data_option(_reports_errors(func)))
        func = click.option("--json", "as_json", is_flag=True, help=json_help)(func)
        func = click.option("-n", "--limit", type=click.IntRange(min=1), default=default_limit,
                            show_default=True, help=limit_help)(func)
        return cli.command()(click.argument("article_id", metavar="ID")(func))

    return decorate


@_article_list_command(10, "How many articles.", "JSON Lines, one object per hit (as search).")
def similar(ctx: click.Context, article_id: str, limit: int, as_json: bool, data: Path | None) -> None:
    """The articles most like article ID (an id or a unique prefix), best first.

    Ranked by the article's characteristic words (see `newsarc keywords`); the
    article itself and same-titled copies from its outlet are left out.
    Exit code 0 with hits, 1 with none or for an unknown id.
    """
    from newsarc.explore import similar as run_similar
    from newsarc.render import render_hits, render_hits_json

    _full, hits = _explore_id(run_similar, _data_dir(ctx, data), article_id, limit)
    out = _stdout()
    if as_json:
        render_hits_json(hits, out)
    else:
        render_hits(hits, out, _style())
    out.flush()
    sys.exit(0 if hits else 1)


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--by", type=click.Choice(["year", "month", "day"]), default="month", show_default=True,
              help="Length of a period.")
@click.option("--source", "sources", multiple=True, metavar="KEY", help="Only this outlet (repeatable).")
@click.option("--since", metavar="DATE", help="Published on or after DATE (YYYY-MM-DD or YYYY-MM).")
@click.option("--until", metavar="DATE", help="Published on or before DATE (YYYY-MM-DD or YYYY-MM).")
@click.option("--json", "as_json", is_flag=True, help='JSON Lines: {"period": "2023-09", "count": 12}.')
@click.option("--no-aliases", is_flag=True, help="Match words literally, not through aliases.")
@_data_option
@click.pass_context
@_reports_errors
def timeline(ctx: click.Context, query: tuple[str, ...], by: str, sources: tuple[str, ...],
             since: str | None, until: str | None, as_json: bool, no_aliases: bool,
             data: Path | None) -> None:
    """How many articles match QUERY per month (or year, day) of publication, as a bar chart.

    The same query language and filters as `newsarc search`; a period is the
    article's own publication date (the outlet's time zone), and periods
    without hits between the first and the last are shown.
    Exit code 0 with hits, 1 with none, 2 for a malformed query.
    """
    from newsarc.explore import timeline as run_timeline
    from newsarc.render import render_timeline
    from newsarc.search import SearchOptions

    options = SearchOptions(sources=sources, since=since, until=until)
    data_dir = _data_dir(ctx, data)
    if _bound(data_dir):
        from newsarc.opensearch import timeline as run_timeline
    result = run_timeline(data_dir, " ".join(query), by, options, aliases=not no_aliases)
    out = _stdout()
    if as_json:
        import json

        for period, count in result.rows:
            out.write(json.dumps({"period": period, "count": count}) + "\n")
    else:
        render_timeline(result.rows, out, _style())
    out.flush()
    if result.undated:
        click.echo(f"{result.undated} matching articles have no publication date", err=True)
    sys.exit(0 if result.total else 1)


@_article_list_command(20, "How many terms.", 'JSON Lines: {"term": …, "weight": …}.')
def keywords(ctx: click.Context, article_id: str, limit: int, as_json: bool, data: Path | None) -> None:
    """The characteristic terms of article ID, with TF-IDF weights (the best is 1).

    Document frequencies are the archive's own; function words, single
    characters and numbers are left out.
    """
    from newsarc.explore import keywords as run_keywords
    from newsarc.render import render_keywords

    _full, rows = _explore_id(run_keywords, _data_dir(ctx, data), article_id, limit)
    out = _stdout()
    if as_json:
        import json

        for term, weight in rows:
            out.write(json.dumps({"term": term, "weight": round(weight, 4)}, ensure_ascii=False) + "\n")
    else:
        render_keywords(rows, out, _style())
    out.flush()


# ----------------------------------------------------------------------------- stats / export


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@_data_option
@click.pass_context
@_reports_errors
def stats(ctx: click.Context, as_json: bool, data: Path | None) -> None:
    """Articles per outlet and per year, date range, size on disk."""
    from newsarc.render import render_stats, render_stats_json
    from newsarc.store import archive_size, open_store

    data_dir = _data_dir(ctx, data)
    if _bound(data_dir):
        from newsarc.opensearch import open_cluster
        from newsarc.opensearch import stats as cluster_stats

        with open_cluster(data_dir) as cluster:
            figures = cluster_stats(cluster)
    else:
        with open_store(data_dir) as store:
            figures = store.stats()
        figures["size_bytes"] = archive_size(data_dir)
    out = _stdout()
    if as_json:
        render_stats_json(figures, out)
    else:
        render_stats(figures, out, _style())


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "opensearch"]), default="jsonl",
              show_default=True, help="jsonl: the records; opensearch: a _bulk NDJSON stream.")
@click.option("--mapping", is_flag=True, help="Print the OpenSearch/Elasticsearch index mapping (JSON).")
@click.option("--index", "index_name", default="newsarc", show_default=True, metavar="NAME",
              help="Index name in the opensearch _bulk action lines.")
@_data_option
@click.pass_context
@_reports_errors
def export(ctx: click.Context, fmt: str, mapping: bool, index_name: str, data: Path | None) -> None:
    """Every record, one JSON object per line (the same fields as `show --json`).

    \b
    --format opensearch   a _bulk stream for OpenSearch/Elasticsearch, with newsarc's
                          own tokens in title_tokens/body_tokens/recall_tokens
    --mapping             the index mapping those documents fit (PUT /newsarc)
    """
    from newsarc.render import render_records_jsonl
    from newsarc.store import open_store

    if mapping:
        import json

        from newsarc.opensearch import index_mapping

        _stdout().write(json.dumps(index_mapping(), ensure_ascii=False, indent=2) + "\n")
        return
    data_dir = _data_dir(ctx, data)
    if _bound(data_dir):
        from newsarc.ingest import archive_segmenter
        from newsarc.opensearch import iter_records, open_cluster, write_bulk

        with open_cluster(data_dir) as cluster:
            if fmt == "opensearch":
                write_bulk(iter_records(cluster), _stdout(), archive_segmenter(data_dir), index_name)
            else:
                render_records_jsonl(iter_records(cluster), _stdout())
        return
    with open_store(data_dir) as store:
        if fmt == "opensearch":
            from newsarc.ingest import archive_segmenter
            from newsarc.opensearch import write_bulk

            segmenter = archive_segmenter(data_dir)
            write_bulk(store.iter_records(), _stdout(), segmenter, index_name)
        else:
            render_records_jsonl(store.iter_records(), _stdout())


@cli.command()
@_data_option
@click.pass_context
@_reports_errors
def reindex(ctx: click.Context, data: Path | None) -> None:
    """Re-segment every stored article and rebuild the search index (after a dictionary change)."""
    from newsarc.ingest import reindex as run_reindex

    data_dir = _data_dir(ctx, data)
    if _bound(data_dir):
        from newsarc.opensearch import reindex as run_reindex  # type: ignore[assignment]
    count = run_reindex(data_dir)
    click.echo(f"re-indexed {count} articles", err=True)


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
    """
    from newsarc.opensearch import push as run_push
    from newsarc.render import render_ingest_summary, style_for

    summary = run_push(_data_dir(ctx, data), dest, workers=workers)
    if as_json:
        import json

        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
    render_ingest_summary(summary.as_dict(), sys.stderr, style_for(sys.stderr))
    for aid, reason in summary.failed[:10]:
        click.echo(f"newsarc: the cluster refused article {aid}: {_printable(reason)}", err=True)
    if summary.failed:
        sys.exit(1)


# ----------------------------------------------------------------------------- entry point


def _stdout() -> Any:
    return sys.stdout


def main() -> None:
    """Console-script entry point: runs the CLI; a closed pipe is not an error."""
    try:
        cli(prog_name="newsarc")
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
