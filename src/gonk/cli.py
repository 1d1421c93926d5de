"""The `gonk-api` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .domain import validation
from .domain.errors import GonkError
from .instance import DATA_DIR_ENV, Instance, NotInitialised, resolve_data_dir


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _open(ctx: click.Context) -> Instance:
    try:
        return Instance.open(ctx.obj["data_dir"])
    except NotInitialised as exc:
        _fail(str(exc))
        raise  # unreachable


@click.group(help="Gonk API: datasets of versioned objects, schemas and annotations.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Where Gonk keeps its database and files [env {DATA_DIR_ENV}; "
                   "default ./gonk-data].")
@click.version_option(package_name="gonk")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    ctx.obj = {"data_dir": resolve_data_dir(data_dir)}


@main.command(help="Create the data directory and database with a first user; print the key.")
@click.option("--username", required=True, help="The first user's name.")
@click.pass_context
def init(ctx: click.Context, username: str) -> None:
    from .users import add_user

    data_dir: Path = ctx.obj["data_dir"]
    try:
        validation.username(username)
    except GonkError as exc:
        _fail(exc.message)
    if (data_dir / "gonk.db").exists():
        _fail(f"{data_dir} is already initialised; nothing was changed. Use "
              "`gonk-api users add NAME` to add users.")
    instance = Instance.create(data_dir)
    key = add_user(instance, username)
    click.echo(f"Initialised Gonk in {data_dir}")
    click.echo(f"Created user {username}. Their API key (shown only once):")
    click.echo(key)


@main.group(help="Add, rekey and list users.")
def users() -> None:
    pass


@users.command("add", help="Create a user and print their API key once.")
@click.argument("name")
@click.pass_context
def users_add(ctx: click.Context, name: str) -> None:
    from .users import add_user

    instance = _open(ctx)
    try:
        key = add_user(instance, name)
    except GonkError as exc:
        _fail(exc.message)
    click.echo(f"Created user {name}. Their API key (shown only once):")
    click.echo(key)


@users.command("rekey", help="Replace a user's API key and print the new one once.")
@click.argument("name")
@click.pass_context
def users_rekey(ctx: click.Context, name: str) -> None:
    from .users import rekey_user

    instance = _open(ctx)
    try:
        key = rekey_user(instance, name)
    except GonkError as exc:
        _fail(exc.message)
    click.echo(f"New API key for {name} (the old one no longer works; shown only once):")
    click.echo(key)


@users.command("list", help="List users, one per line.")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    from .users import list_users

    for name in list_users(_open(ctx)):
        click.echo(name)


@main.command(help="Run Flask's development server (use for trying Gonk out).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_context
def run(ctx: click.Context, host: str, port: int) -> None:
    from .api import create_app

    app = create_app(instance=_open(ctx))
    app.run(host=host, port=port, threaded=True)


@main.command(help="Recompute every hash chain and rebuild derived state from the log; exit 1 "
                   "at the first broken link or mismatch.")
@click.argument("datasets", nargs=-1)
@click.pass_context
def verify(ctx: click.Context, datasets: tuple[str, ...]) -> None:
    from .verify import dataset_names, verify_dataset

    instance = _open(ctx)
    names = list(datasets) or dataset_names(instance)
    for name in names:
        try:
            verdict = verify_dataset(instance, validation.dataset_name(name))
        except GonkError as exc:
            _fail(f"{name}: {exc.message}")
        click.echo(verdict.line())
        if not verdict.ok:
            sys.exit(1)
    if not names:
        click.echo("No datasets to verify.")
