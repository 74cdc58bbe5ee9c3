"""`funnelfeed users add|passwd|remove|list|token`: people who sign in to the web view."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from aggregator.commands.core import config_option
from aggregator.errors import FunnelfeedError, NotFoundError
from aggregator.runtime import open_runtime

ROLES = ("support", "manager", "rep")


def _read_password(from_stdin: bool) -> str:
    from web.security import check_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    check_password(password)
    return password


@click.group()
def users() -> None:
    """Web users: support staff, managers and reps."""


@users.command("add")
@config_option
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="support, manager or rep.")
@click.option("--rep", "rep_id", help="For --role rep: the rep id in config.yaml this user is.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def add(config_path: Path, username: str, role: str, rep_id: str | None, password_stdin: bool) -> None:
    """Create USERNAME (or update their role, rep and password)."""
    from web.security import hash_password

    username = username.strip()
    if not username or len(username) > 100:
        raise FunnelfeedError("a user name must have 1 to 100 characters")
    if role == "rep" and not rep_id:
        raise FunnelfeedError("a rep user needs --rep REP_ID (the rep's id in config.yaml)")
    if role != "rep" and rep_id:
        raise FunnelfeedError("--rep is only for --role rep")
    runtime = open_runtime(config_path)
    try:
        if rep_id and runtime.holder.rep(rep_id) is None:
            known = ", ".join(r.id for r in runtime.config.reps) or "none"
            raise NotFoundError(f"no rep {rep_id!r} in {config_path} (reps: {known})")
        password = _read_password(password_stdin)
        existed = runtime.storage.user(username) is not None
        runtime.storage.upsert_user(username, hash_password(password), role, rep_id, runtime.clock())
    finally:
        runtime.close()
    click.echo(f"{'updated' if existed else 'added'} {username} ({role}{f', rep {rep_id}' if rep_id else ''})")


@users.command("passwd")
@config_option
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def passwd(config_path: Path, username: str, password_stdin: bool) -> None:
    """Set USERNAME's password (signs them out everywhere)."""
    from web.security import hash_password

    runtime = open_runtime(config_path)
    try:
        if runtime.storage.user(username) is None:
            raise NotFoundError(f"no user {username!r}")
        runtime.storage.set_user_password(username, hash_password(_read_password(password_stdin)))
    finally:
        runtime.close()
    click.echo(f"password of {username} changed")


@users.command("remove")
@config_option
@click.argument("username")
def remove(config_path: Path, username: str) -> None:
    """Delete USERNAME (their notes and corrections stay, credited to a removed user)."""
    runtime = open_runtime(config_path)
    try:
        if not runtime.storage.remove_user(username):
            raise NotFoundError(f"no user {username!r}")
    finally:
        runtime.close()
    click.echo(f"removed {username}")


@users.command("list")
@config_option
def list_users(config_path: Path) -> None:
    """Every user with role, rep and whether an API token is set."""
    runtime = open_runtime(config_path)
    try:
        rows = runtime.storage.users()
    finally:
        runtime.close()
    for u in rows:
        click.echo(f"{u.username}\t{u.role}\t{u.rep_id or '-'}\t{'api-token' if u.api_token_hash else '-'}")


@users.command("token")
@config_option
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Remove the token instead of issuing a new one.")
def token(config_path: Path, username: str, revoke: bool) -> None:
    """Issue a new API token for USERNAME (printed once; the old one stops working)."""
    from web.security import hash_api_token, new_api_token

    runtime = open_runtime(config_path)
    try:
        user = runtime.storage.user(username)
        if user is None or user.id is None:
            raise NotFoundError(f"no user {username!r}")
        value = None if revoke else new_api_token()
        runtime.storage.set_user_api_token_hash(user.id, hash_api_token(value) if value else None)
    finally:
        runtime.close()
    click.echo(value if value else f"API token of {username} revoked")


COMMANDS = [users]
