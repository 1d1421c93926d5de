"""The `gonk-api` command line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from .domain import label_kinds, validation
from .domain.errors import GonkError
from .installation import (
    BLOB_URL_ENV,
    DATA_DIR_ENV,
    DATABASE_URL_ENV,
    Installation,
    StorageError,
    resolve_data_dir,
)


def _fail(message: str) -> NoReturn:
    """Stop the command: "Error: <message>" on standard error, exit status 1."""
    raise click.ClickException(message)


def _storage(ctx: click.Context) -> tuple[Path, str | None, str | None]:
    """The storage options (given before or after the subcommand), with the data directory
    resolved (--data-dir, else $GONK_DATA_DIR, else ./gonk-data); the URLs fall back to their
    environment variables in Installation."""
    chosen = ctx.find_object(dict) or {}
    return (resolve_data_dir(chosen.get("data_dir")), chosen.get("database_url"),
            chosen.get("blob_url"))


def _open(ctx: click.Context) -> Installation:
    try:
        return Installation.open(*_storage(ctx))
    except StorageError as exc:
        _fail(str(exc))


def _remember_storage(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Keep a storage option in the context's object, shared by the group and its subcommands.
    Options are parsed from left to right (the group's before its subcommand's), so the one
    given last, after the subcommand, wins."""
    if value is not None and param.name is not None:
        ctx.ensure_object(dict)[param.name] = value


def _storage_options(command: Any) -> Any:
    """--data-dir, --database-url and --blob-url: accepted before the subcommand (`gonk-api
    --data-dir X init`) and after it (`gonk-api init --data-dir X`)."""
    shared: dict[str, Any] = {"expose_value": False, "callback": _remember_storage}
    options = [
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), **shared,
                     help=f"Where Gonk keeps its database and files by default [env "
                          f"{DATA_DIR_ENV}; default ./gonk-data]."),
        click.option("--database-url", **shared,
                     help=f"Metadata database: sqlite:///PATH or postgresql://user:pass@host/db "
                          f"[env {DATABASE_URL_ENV}; default SQLite in the data directory]."),
        click.option("--blob-url", **shared,
                     help=f"Where object bytes live: file:///PATH or s3://bucket/prefix (AWS_* "
                          f"variables give the endpoint and credentials) [env {BLOB_URL_ENV}; "
                          "default files in the data directory]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


class _GonkCommands(click.Group):
    """The command group: a refusal or a storage failure that a command did not handle itself
    (the database or the bucket going away mid-command, a full disk) ends it like every other
    error, "Error: <message>" and exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GonkError as exc:
            raise click.ClickException(exc.message) from None


@click.group(cls=_GonkCommands, help="Gonk API: datasets of versioned objects, schemas and annotations. The "
                  "storage options (--data-dir, --database-url, --blob-url) may be given "
                  "before or after the command.")
@_storage_options
@click.version_option(package_name="gonk")
@click.pass_context
def main(ctx: click.Context) -> None:
    ctx.ensure_object(dict)


@main.command(help="Create the database's tables (and the data directory, by default) with a "
                   "first user; print the key.")
@click.option("--username", required=True, help="The first user's name.")
@click.option("--log-origin", "log_origin", default=None,
              help="The name of the log signing key and the start of every checkpoint's "
                   "origin, chosen once (for example gonk.example.org). Default: "
                   "$GONK_LOG_ORIGIN, else this machine's host name.")
@_storage_options
@click.pass_context
def init(ctx: click.Context, username: str, log_origin: str | None) -> None:
    from .users import add_user

    try:
        validation.username(username)
    except GonkError as exc:
        _fail(exc.message)
    try:
        installation = Installation.create(*_storage(ctx), log_origin=log_origin)
    except StorageError as exc:
        _fail(str(exc))
    key = add_user(installation, username, admin=True)
    click.echo(f"Initialised Gonk in {installation.where()} "
               f"(bytes: {installation.blobs.describe()})")
    click.echo(f"Created user {username}, an instance admin. Their API key (shown only once):")
    click.echo(key)


@main.group(help="Add, rekey, delete and list users.")
@_storage_options
def users() -> None:
    pass


def _issue_key(ctx: click.Context, name: str, make_key: Callable[[Installation, str], str],
               headline: str) -> None:
    """Run `make_key`, then print the headline and the key alone on the last line."""
    installation = _open(ctx)
    try:
        key = make_key(installation, name)
    except GonkError as exc:
        _fail(exc.message)
    click.echo(headline)
    click.echo(key)


@users.command("add", help="Create a user and print their API key once.")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Make them an instance admin (manages users over "
                                             "the API).")
@_storage_options
@click.pass_context
def users_add(ctx: click.Context, name: str, admin: bool) -> None:
    from .users import add_user

    _issue_key(ctx, name, lambda installation, user: add_user(installation, user, admin),
               f"Created user {name}{', an instance admin' if admin else ''}. "
               "Their API key (shown only once):")


@users.command("rekey", help="Replace a user's API key and print the new one once.")
@click.argument("name")
@_storage_options
@click.pass_context
def users_rekey(ctx: click.Context, name: str) -> None:
    from .users import rekey_user

    _issue_key(ctx, name, rekey_user,
               f"New API key for {name} (the old one no longer works; shown only once):")


@users.command("delete", help="Delete a user: their key stops working at once; their name "
                              "stays in the logs and is never given again.")
@click.argument("name")
@_storage_options
@click.pass_context
def users_delete(ctx: click.Context, name: str) -> None:
    from .users import remove_user

    try:
        at = remove_user(_open(ctx), name)
    except GonkError as exc:
        _fail(exc.message)
    click.echo(f"Deleted user {name} ({at}); their key no longer works.")


@users.command("list", help="List users, one per line (not the deleted ones).")
@_storage_options
@click.pass_context
def users_list(ctx: click.Context) -> None:
    from .users import list_users

    for name in list_users(_open(ctx)):
        click.echo(name)


def _limit_options(command: Any) -> Any:
    """--max-json-bytes and --max-stream-bytes, shared by `run` and `serve`."""
    command = click.option(
        "--max-stream-bytes", type=click.IntRange(min=0), default=None,
        help="Largest raw upload: POST/PATCH .../objects with any non-JSON body, or with any "
             "body when ?name= is given (so a JSON file uploaded as raw bytes counts here) "
             "[env GONK_MAX_STREAM_BYTES; default 10 GiB].")(command)
    return click.option(
        "--max-json-bytes", type=click.IntRange(min=1), default=None,
        help="Largest JSON request body (without ?name=), and largest object sent inside JSON "
             "by the load endpoints [env GONK_MAX_JSON_BYTES; default 64 MiB].")(command)


def _address_options(command: Any) -> Any:
    """--host and --port, shared by `run` and `serve`."""
    command = click.option(
        "--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
        help="TCP port to listen on; 0 picks a free one (the line printed once listening "
             "says which).")(command)
    return click.option("--host", default="127.0.0.1", show_default=True,
                        help="Address to listen on (0.0.0.0: every IPv4 interface).")(command)


def _app_config(max_json_bytes: int | None, max_stream_bytes: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if max_json_bytes is not None:
        config["MAX_CONTENT_LENGTH"] = max_json_bytes
    if max_stream_bytes is not None:
        config["GONK_MAX_STREAM_BYTES"] = max_stream_bytes
    return config


@main.command(help="Run Flask's development server, for one person trying Gonk out on their "
                   "own machine: a thread per connection, not hardened against slow or "
                   "abusive clients (for a team, use `gonk-api serve`). Prints the address once "
                   "it listens.")
@_address_options
@_limit_options
@_storage_options
@click.pass_context
def run(ctx: click.Context, host: str, port: int, max_json_bytes: int | None,
        max_stream_bytes: int | None) -> None:
    from werkzeug.serving import make_server

    from .api import create_app
    from .server import DevRequestHandler, serving_line

    installation = _open(ctx)
    app = create_app(installation=installation,
                     config=_app_config(max_json_bytes, max_stream_bytes))
    # What app.run does without a reloader or debugger, with the socket bound before the line
    # is printed, so that it shows the real port (also with --port 0). A port in use: werkzeug
    # says so and exits 1.
    server = make_server(host, port, app, threaded=True, request_handler=DevRequestHandler)
    server.log_startup()
    click.echo(serving_line(installation.where(), *server.socket.getsockname()[:2]))
    server.serve_forever()


@main.command(help="Run Gonk under gunicorn, a production WSGI server: several worker "
                   "processes, request timeouts and access logs. Prints the address once it "
                   "listens.")
@_address_options
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: 2 x cores + 1].")
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True,
              help="Threads per worker (slow clients then do not hold a whole worker).")
@click.option("--timeout", type=click.IntRange(min=1), default=60, show_default=True,
              help="Seconds a worker may stay unresponsive (stuck) before gunicorn restarts it; "
                   "requests in progress on healthy workers, such as long uploads, are not cut.")
@click.option("--access-log", default="-", show_default=True,
              help="Where to write the access log ('-' is standard output); '' turns it off.")
@click.option("--header-timeout", type=click.FloatRange(min=0.1), default=10.0,
              show_default=True,
              help="Seconds a client has to send a request's line and headers (from its first "
                   "byte; a new connection that sends nothing is closed after as long); past "
                   "it, 408 and the connection is closed. Until then the request holds no "
                   "thread.")
@click.option("--body-timeout", type=click.FloatRange(min=0.1), default=20.0,
              show_default=True,
              help="Longest pause while a client sends a request body; the body must also "
                   "keep up 500 bytes/s on average once that many seconds of waiting are used "
                   "up. Past either, the request fails (400) and nothing is stored.")
@_limit_options
@_storage_options
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int | None, threads: int,
          timeout: int, access_log: str, header_timeout: float, body_timeout: float,
          max_json_bytes: int | None, max_stream_bytes: int | None) -> None:
    from .server import default_workers
    from .server import serve as run_server

    installation = _open(ctx)  # fail here, once, with a clear message if there is nothing to serve
    where = installation.where()
    installation.close()
    run_server(_storage(ctx), host, port, workers or default_workers(), threads, timeout,
               access_log or None, _app_config(max_json_bytes, max_stream_bytes), where,
               header_timeout, body_timeout)


def _import_target(ctx: click.Context, dataset: str, url: str | None, key: str | None,
                   user: str | None, remote: Callable[[str, str, str], Any],
                   local: Callable[[Installation, str, str], Any]) -> Any:
    """Where `import` and `import-labels` write: the server at --url (with --key), else the
    local installation as --user, who must exist."""
    validation.dataset_name(dataset)
    if url:
        if not key:
            _fail("--url needs --key (or GONK_API_KEY).")
        return remote(url, key, dataset)
    if not user:
        _fail("A local import needs --user NAME (the proposer); or pass --url and "
              "--key to import through a server.")
    from .users import list_users

    installation = _open(ctx)
    if user not in list_users(installation):
        _fail(f"No user named {user}.")
    return local(installation, dataset, user)


@main.command("import", help="Add every file under PATHS as objects of DATASET (streaming; "
                              "files already in the dataset are skipped, so an interrupted "
                              "import can be run again). Local by default (as --user); "
                              "with --url, through a running server. Hidden files and folders "
                              "are left out unless --include-hidden; files whose names cannot "
                              "be object names are reported and skipped.")
@click.argument("dataset")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--user", help="Local import: the user the objects are proposed by.")
@click.option("--url", envvar="GONK_URL", help="Import through this Gonk server "
              "(e.g. http://127.0.0.1:5000) [env GONK_URL].")
@click.option("--key", envvar="GONK_API_KEY", help="API key for --url [env GONK_API_KEY].")
@click.option("--include-hidden", is_flag=True,
              help="Also import hidden files and folders (names starting with '.'), which are "
                   "left out by default. A file named in PATHS is imported either way.")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB",
              help="Leave out files and folders whose object name (the path relative to the "
                   "folder given) or whose own name matches GLOB (shell-style, case-sensitive, "
                   "'*' also matches '/'; a trailing '/' matches folders only): '*.tmp', "
                   "'cache', 'raw/*'. Repeatable.")
@click.option("--strict", is_flag=True,
              help="Count files whose names cannot be object names (for example "
                   "'schema-*' at the top) as failures (exit 1) instead of skipping them.")
@_storage_options
@click.pass_context
def import_files(ctx: click.Context, dataset: str, paths: tuple[Path, ...], user: str | None,
                 url: str | None, key: str | None, include_hidden: bool,
                 excludes: tuple[str, ...], strict: bool) -> None:
    from .importer import (
        LocalTarget,
        RemoteTarget,
        Selection,
        Summary,
        collect_files,
        import_one,
        shown_name,
        storable_files,
    )

    try:
        selection = Selection(include_hidden, excludes)
    except ValueError as exc:
        _fail(str(exc))
    try:
        target = _import_target(ctx, dataset, url, key, user, RemoteTarget, LocalTarget)
        files = collect_files(list(paths), selection)
    except GonkError as exc:
        _fail(exc.message)
    except OSError as exc:  # a file or folder that cannot be read
        _fail(str(exc))
    summary = Summary(failed=list(selection.unreadable))
    files = storable_files(files, summary, strict)
    with click.progressbar(files, label=f"Importing into {dataset}", show_pos=True,
                           item_show_func=lambda f: f.name[-40:] if f else "") as bar:
        for source in bar:
            import_one(target, source, summary)
    for name, reason in summary.unstorable:
        click.echo(f"skipped: {shown_name(name)}: {reason}", err=True)
    for name, reason in summary.failed:
        click.echo(f"failed: {shown_name(name)}: {reason}", err=True)
    if selection.hidden or selection.excluded:
        click.echo(f"Left out {selection.hidden} hidden and {selection.excluded} excluded files "
                   "or folders (see --include-hidden and --exclude).")
    click.echo(summary.line())
    if summary.failed:
        sys.exit(1)


@main.command("import-labels", help="Import existing labels (COCO, YOLO or Pascal VOC) into "
                                     "DATASET: the images become objects (bytes already in the "
                                     "dataset are not added again), the dataset's schema of "
                                     "the label kind is used (or schema-<kind> created, with "
                                     "the classes as its enum), and one pending annotation is "
                                     "proposed per image (none that is already there). PATH: "
                                     "the COCO instances JSON, the YOLO folder (images/, "
                                     "labels/, classes.txt or data.yaml), or the folder of VOC "
                                     ".xml files (or holding Annotations/). Every file is "
                                     "checked first: any problem is printed as "
                                     "'gonk-api: FILE:PLACE: what' and nothing is stored. "
                                     "Local by default (as --user); with --url, through a "
                                     "running server.")
@click.argument("dataset")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--format", "label_format", required=True,
              type=click.Choice(["coco", "yolo", "voc"]), help="The labels' format.")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The images folder [COCO: the JSON's folder, then images/ beside it; YOLO: "
                   "PATH/images; VOC: JPEGImages/ beside the XML folder, then the XML folder].")
@click.option("--kind", type=click.Choice(["detection", "segmentation"]),
              help="COCO only: import boxes (detection) or polygons and masks (segmentation) "
                   "[default: segmentation when the file has any segmentation, else detection].")
@click.option("--user", help="Local import: the user the changes are proposed by.")
@click.option("--url", envvar="GONK_URL", help="Import through this Gonk server "
              "(e.g. http://127.0.0.1:5000) [env GONK_URL].")
@click.option("--key", envvar="GONK_API_KEY", help="API key for --url [env GONK_API_KEY].")
@_storage_options
@click.pass_context
def import_labels(ctx: click.Context, dataset: str, path: Path, label_format: str,
                  images: Path | None, kind: str | None, user: str | None, url: str | None,
                  key: str | None) -> None:
    from .labels.importing import (
        LabelImport,
        LocalLabelTarget,
        MissingDependency,
        RemoteLabelTarget,
        read_labels,
    )

    try:
        target = _import_target(ctx, dataset, url, key, user, RemoteLabelTarget,
                                LocalLabelTarget)
        plan = read_labels(label_format, path, images, kind)
        job = LabelImport(target, plan)
        problems = plan.problems or job.prepare()
    except MissingDependency as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except ValueError as exc:
        _fail(str(exc))
    except GonkError as exc:
        _fail(exc.message)
    except OSError as exc:  # a file or folder that cannot be read
        _fail(str(exc))
    if problems:
        for problem in problems:
            click.echo(problem.line(), err=True)
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        click.echo(f"Nothing was imported: {count} (above).", err=True)
        sys.exit(1)
    bar: Any = click.progressbar(length=len(plan.images), file=sys.stderr, show_pos=True,
                                 label=f"Importing labels into {dataset}")
    with bar:
        summary = job.run(bar.update)
    if summary.failed:
        click.echo(f"failed: {summary.failed} (what was stored before stays; run the command "
                   "again to finish)", err=True)
    click.echo(summary.line(dataset))
    if summary.failed:
        sys.exit(1)


@main.command(help="Remove stored bytes that no committed event references, and leftovers "
                   "of interrupted uploads.")
@click.option("--min-age", type=click.IntRange(min=0), default=3600, show_default=True,
              help="Only remove files older than this many seconds (uploads in flight are "
                   "younger).")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@_storage_options
@click.pass_context
def gc(ctx: click.Context, min_age: int, dry_run: bool) -> None:
    from .garbage import collect

    result = collect(_open(ctx), min_age, dry_run)
    verb = "Would remove" if dry_run else "Removed"
    click.echo(f"{verb} {result.blobs} unreferenced blobs ({result.blob_bytes} bytes) and "
               f"{result.temporary_files} temporary upload files; kept {result.kept} blobs. "
               f"{verb} {result.thumbnails} cached thumbnails ({result.thumbnail_bytes} bytes).")


@main.command(help="Upgrade the database's schema (and a local blob directory's layout) to this "
                   "version of Gonk; every event and byte is kept.")
@click.option("--log-origin", "log_origin", default=None,
              help="If the installation has no log signing key yet, the origin to make it "
                   "with (default: $GONK_LOG_ORIGIN, else this machine's host name); an "
                   "existing key keeps its own.")
@_storage_options
@click.pass_context
def migrate(ctx: click.Context, log_origin: str | None) -> None:
    from .migration import migrate_installation

    try:
        for line in migrate_installation(Installation(*_storage(ctx)), log_origin):
            click.echo(line)
    except StorageError as exc:
        _fail(str(exc))


@main.command("log-key", help="Print the installation's log verifier key (C2SP signed-note "
                              "format), which checks every dataset's checkpoints: give it to "
                              "anyone who checks checkpoints and proofs "
                              "(gonk.client.log_proofs.VerifierKey reads it).")
@_storage_options
@click.pass_context
def log_key(ctx: click.Context) -> None:
    from . import log_signing

    installation = _open(ctx)
    with installation.db.read() as conn:
        click.echo(log_signing.verifier_key(log_signing.current_key(conn)))


@main.command(help="Check that DATASET's log at a Gonk server only ever grows, with nothing "
                   "but what the server sends and the verifier key you pinned: the checkpoint's "
                   "signature, consistency with the checkpoint kept in the --state file, the "
                   "hash chain and Merkle root of the events appended since, and the inclusion "
                   "of every watched event (--event, remembered in the state file). Then the "
                   "new checkpoint is kept. Run it on a schedule. Exit status: 0 verified; 1 "
                   "the log does not check out (rewritten, or not signed by the key: the "
                   "message names the dataset and both sizes, and the state file keeps the "
                   "earlier checkpoint as evidence); 2 it could not be checked (options, "
                   "state file, no answer).")
@click.option("--url", envvar="GONK_URL", required=True,
              help="The Gonk server (e.g. https://gonk.example.org) [env GONK_URL].")
@click.option("--key", envvar="GONK_API_KEY", required=True,
              help="An API key that may read the dataset [env GONK_API_KEY].")
@click.option("--dataset", required=True, help="The dataset whose log to check.")
@click.option("--state", "state_file", required=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where the monitor keeps the last checkpoint that checked out (made on the "
                   "first run).")
@click.option("--log-key", "log_key_text", metavar="KEY",
              help="The verifier key to pin (as `gonk-api log-key` prints it on the server); "
                   "needed on the first run, checked against the pinned one after.")
@click.option("--log-key-file", metavar="PATH", type=click.Path(dir_okay=False, exists=True,
                                                                 path_type=Path),
              help="The same, read from a file.")
@click.option("--event", "events", multiple=True, metavar="UUID",
              help="Also prove that this event is in the log, now and on every later run "
                   "(repeatable).")
def monitor(url: str, key: str, dataset: str, state_file: Path, log_key_text: str | None,
            log_key_file: Path | None, events: tuple[str, ...]) -> None:
    from .client import Client
    from .client.log_proofs import ProofError, VerifierKey
    from .client.monitor import LogRewritten, MonitorError

    def stop(message: str, status: int) -> NoReturn:
        click.echo(message, err=True)
        sys.exit(status)

    if log_key_text and log_key_file:
        stop("Error: give --log-key or --log-key-file, not both.", 2)
    try:
        text = log_key_file.read_text(encoding="utf-8") if log_key_file else log_key_text
        pinned = VerifierKey.parse(text) if text else None
    except (OSError, UnicodeDecodeError, ProofError) as exc:
        stop(f"Error: {'--log-key-file' if log_key_file else '--log-key'}: {exc}", 2)
    with Client(url, key, retries=2) as client:
        try:
            report = client.dataset(dataset).monitor(state_file, pinned, watch=events)
        except LogRewritten as exc:
            stop(str(exc), 1)
        except MonitorError as exc:
            stop(f"Error: {exc}", 2)
    click.echo(report.summary())


@main.command(help="Copy every user, dataset, event and byte from the configured storage to "
                   "another (an empty database and blob store), verifying every chain on "
                   "arrival.")
@click.option("--to-database", "to_database", required=True,
              help="The target database URL (sqlite:///PATH or postgresql://...); it must be "
                   "empty.")
@click.option("--to-blobs", "to_blobs", required=True,
              help="The target blob store URL (file:///PATH or s3://bucket/prefix).")
@_storage_options
@click.pass_context
def copy(ctx: click.Context, to_database: str, to_blobs: str) -> None:
    from .copying import CopyFailed, copy_installation

    source = _open(ctx)
    try:
        target = Installation.create(_storage(ctx)[0], to_database, to_blobs)
    except StorageError as exc:
        _fail(f"target: {exc}")
    try:
        report = copy_installation(source, target, click.echo)
    except CopyFailed as exc:
        _fail(f"copy stopped: {exc}")
    for verdict in report.verdicts:
        click.echo(verdict.line())
    click.echo(f"Copied {report.users} users, {report.datasets} datasets, {report.events} "
               f"events, {report.releases} releases, {report.queued_objects} queue priorities "
               f"or assignees and {report.blobs} blobs "
               f"({report.blob_bytes} bytes) to "
               f"{target.where()} + {target.blobs.describe()}; every chain verified.")


@main.command(help="Recompute every hash chain and rebuild derived state from the log, and "
                   "check every release's point and manifest; exit 1 at the first broken link "
                   "or mismatch.")
@click.argument("datasets", nargs=-1)
@_storage_options
@click.pass_context
def verify(ctx: click.Context, datasets: tuple[str, ...]) -> None:
    from .queries import all_datasets
    from .verify import verify_dataset

    installation = _open(ctx)
    names = list(datasets) or all_datasets(installation)
    for name in names:
        try:
            verdict = verify_dataset(installation, validation.dataset_name(name))
        except GonkError as exc:
            _fail(f"{name}: {exc.message}")
        click.echo(verdict.line())
        if not verdict.ok:
            sys.exit(1)
    if not names:
        click.echo("No datasets to verify.")


def _remote_options(command: Any) -> Any:
    """--url and --key, as `import` has them: read through a server instead of locally."""
    command = click.option("--key", envvar="GONK_API_KEY",
                           help="API key for --url [env GONK_API_KEY].")(command)
    return click.option("--url", envvar="GONK_URL", help="Read through this Gonk server "
                        "(e.g. http://127.0.0.1:5000) instead of the local installation "
                        "[env GONK_URL].")(command)


def _source(ctx: click.Context, dataset: str, url: str | None, key: str | None) -> Any:
    """Where export and diff read: the server at --url, else the local installation."""
    from .exporting import LocalSource, RemoteSource

    validation.dataset_name(dataset)
    if url:
        if not key:
            _fail("--url needs --key (or GONK_API_KEY).")
        return RemoteSource(url, key, dataset)
    return LocalSource(_open(ctx), dataset)


@main.command(help="Write release NAME of DATASET into the folder DIR. Without --format (or "
                   "with --format gonk), as plain files: manifest.jsonl (the release's "
                   "manifest, checked against its sha256), each object under objects/<its "
                   "name> (names that cannot be safe paths, or that clash, go to "
                   "objects/_gonk_renamed/<uuid>.<version>[.<ext>]), each schema under "
                   "schemas/<name>.json, and objects.jsonl, schemas.jsonl and annotations.jsonl "
                   "(each line: the manifest line, plus the file's path or the annotation "
                   "document). With --format coco, yolo, voc, csv or parquet: the labels in "
                   "that format, the objects under images/ (or none with --no-files), and "
                   "export-report.json listing what does not fit the format. Every file is "
                   "checked against its sha256; files already there are skipped, so an "
                   "interrupted export is finished by running it again. Local by default; with "
                   "--url, through a running server.")
@click.argument("dataset")
@click.option("--release", "release", metavar="NAME", help="The release to export.")
@click.option("--as-of", "as_of", metavar="POINT",
              help="Export the content at this event uuid (or release name) instead of a "
                   "release (label formats only).")
@click.option("--out", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write into (created if missing).")
@click.option("--format", "format", default="gonk", show_default=True,
              type=click.Choice(["gonk", "coco", "yolo", "voc", "csv", "parquet"]),
              help="gonk: the release's own files and manifest; the others: labels in that "
                   "format.")
@click.option("--files/--no-files", default=True, show_default=True,
              help="Label formats: write the object files too, or only the labels (each "
                   "record then carries the URL of its object's bytes).")
@click.option("--base-url", default="", metavar="URL",
              help="Local label exports without files: the server address the URLs start with "
                   "(by default they are paths on the server, /datasets/...).")
@_remote_options
@_storage_options
@click.pass_context
def export(ctx: click.Context, dataset: str, release: str | None, as_of: str | None, out: Path,
           format: str, files: bool, base_url: str, url: str | None, key: str | None) -> None:
    import json

    from .exporting import Export

    if (release is None) == (as_of is None):
        _fail("Name what to export: --release NAME, or --as-of POINT (label formats).")
    if format != "gonk":
        _label_export(ctx, dataset, release, as_of, out, format, files, base_url, url, key)
        return
    if release is None:
        _fail("--as-of needs a label format (--format coco, yolo, voc, csv or parquet); the "
              "gonk format exports releases, whose manifest is recorded.")
    try:
        job = Export(_source(ctx, dataset, url, key), dataset, release, out)
        bar: Any = click.progressbar(length=max(job.total_bytes, 1),
                                     label=f"Exporting {dataset} release {release}",
                                     file=sys.stderr)
        with bar:
            summary = job.run(bar.update)
    except OSError as exc:
        _fail(str(exc))
    for name, path, reason in summary.renamed:
        click.echo(f"renamed: {json.dumps(name, ensure_ascii=False)} -> {path} ({reason})",
                   err=True)
    if summary.strays:
        click.echo(f"Note: {summary.strays} files under objects/ and schemas/ of {out} are "
                   "not part of this release (left as they were).", err=True)
    click.echo(summary.line(release, dataset, out))


def _label_export(ctx: click.Context, dataset: str, release: str | None, as_of: str | None,
                  out: Path, format: str, files: bool, base_url: str, url: str | None,
                  key: str | None) -> None:
    """`export --format F`: locally, the export written straight into DIR; with --url, the
    server's zip archive downloaded (to a temporary file) and its files written into DIR."""
    import json

    from .labels import export as label_export
    from .labels.output import write_folder

    validation.dataset_name(dataset)
    point = release if release is not None else as_of
    assert point is not None
    try:
        if url:
            if not key:
                _fail("--url needs --key (or GONK_API_KEY).")
            report = _remote_label_export(url, key, dataset, point, release is not None,
                                          format, files, out)
        else:
            job = label_export.open_export(_open(ctx), dataset, point, format, files,
                                           base_url, release_only=release is not None)
            if job.expected_versions is None:  # a point that is no release: no count
                click.echo(f"Reading {dataset} at {point}...", err=True)
                job.gather()
            else:
                reading: Any = click.progressbar(length=max(job.expected_versions, 1),
                                                 label=f"Reading {dataset} at {point}",
                                                 file=sys.stderr)
                with reading:
                    job.gather(reading.update)
            total = sum(image.size for image in job.images) if files else 0
            with click.progressbar(length=max(total, 1), label="Writing files",
                                   file=sys.stderr) as writing:
                write_folder(job.files(), out, writing.update)
            report = job.report_json()
    except OSError as exc:
        _fail(str(exc))
    for skipped in report["skipped"]["objects"]:
        click.echo(f"skipped object {skipped['uuid']} v{skipped['version']}: "
                   f"{skipped['reason']}", err=True)
    for skipped in report["skipped"]["annotations"][:20]:
        click.echo(f"skipped annotation {skipped['uuid']} v{skipped['version']}: "
                   f"{skipped['reason']}", err=True)
    if len(report["skipped"]["annotations"]) > 20:
        click.echo(f"... and {len(report['skipped']['annotations']) - 20} more skipped "
                   f"annotations: see {json.dumps(str(out / label_export.REPORT_FILE))}",
                   err=True)
    click.echo(label_export.summary_line(report, str(out)))


def _remote_label_export(url: str, key: str, dataset: str, point: str, is_release: bool,
                         format: str, files: bool, out: Path) -> Any:
    import json
    import tempfile
    import zipfile

    from .client.http import segment
    from .client.resources import stream_chunks
    from .exporting import ExportError
    from .labels.export import REPORT_FILE
    from .labels.output import write_folder, zip_entries
    from .remote import domain_errors, open_client

    base = f"/datasets/{segment(dataset)}"
    params = {"format": format, "files": "true" if files else "false"}
    if is_release:
        address = f"{base}/releases/{segment(point)}/export"
    else:
        address, params["as_of"] = f"{base}/export", point
    with tempfile.TemporaryFile() as spool, open_client(url, key, read_timeout=600) as client:
        with domain_errors(ExportError):
            answer = client.http.request("GET", address, params=params, stream=True)
            click.echo(f"Downloading {dataset} at {point} from {url}...", err=True)
            for chunk in stream_chunks(answer, f"{dataset} at {point}"):
                spool.write(chunk)
        spool.seek(0)
        try:
            with zipfile.ZipFile(spool) as archive:
                write_folder(zip_entries(archive), out)
        except zipfile.BadZipFile:
            raise ExportError(f"The server at {url} sent an archive that is not a whole zip "
                              "file (cut off?); run the export again.") from None
    return json.loads((out / REPORT_FILE).read_bytes())


@main.group(help="Schemas: templates of the standard label kinds.")
def schemas() -> None:
    pass


@schemas.command("template", help="Print the reference JSON Schema of a label kind "
                                  "(classification, detection, segmentation, keypoints or "
                                  "caption), to start a dataset's schema from: narrow it (an "
                                  "enum of labels, required attributes), keep its shape and its "
                                  "x-gonk-kind.")
@click.argument("kind", type=click.Choice(list(label_kinds.KINDS)))
@click.option("--example", is_flag=True, help="Print an annotation of the kind instead.")
def schemas_template(kind: str, example: bool) -> None:
    import json

    document = label_kinds.EXAMPLES[kind] if example else label_kinds.template(kind)
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@main.command(help="Print the changes between two points of DATASET's log (FROM and TO: an "
                   "event uuid or a release name; TO defaults to the latest event): first a "
                   "summary line (added, removed and changed schemas, objects and annotations), "
                   "then one line per change. Local by default; with --url, through a running "
                   "server.")
@click.argument("dataset")
@click.argument("from_point", metavar="FROM")
@click.argument("to_point", metavar="[TO]", required=False)
@_remote_options
@_storage_options
@click.pass_context
def diff(ctx: click.Context, dataset: str, from_point: str, to_point: str | None,
         url: str | None, key: str | None) -> None:
    from .exporting import write_diff

    try:
        write_diff(_source(ctx, dataset, url, key), from_point, to_point, click.echo)
    except OSError as exc:
        _fail(str(exc))
