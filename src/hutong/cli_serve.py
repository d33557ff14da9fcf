"""``hutong serve`` (the coders' workbench) and ``hutong user ...`` (its accounts)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from hutong.cli_terms import DbOption, fail, open_store

user_app = typer.Typer(help="Workbench accounts / 工作台用户.", no_args_is_help=True)


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port")] = 8765,
    runs: Annotated[
        Path | None,
        typer.Option(
            help="Folder of run outputs (hutong run -o) for the QC pages", file_okay=False
        ),
    ] = None,
    db: DbOption = None,
    secure_cookies: Annotated[
        bool, typer.Option(help="Mark cookies Secure (when served behind HTTPS)")
    ] = False,
) -> None:
    """Start the workbench: mapping queue, QC worklist, dashboards / 启动编码工作台.

    Sign in with an account made by `hutong user add`; nothing is loaded from the internet."""
    import uvicorn

    from hutong.web.accounts import Accounts
    from hutong.web.app import Settings, create_app

    store = open_store(db)
    if not Accounts(store).users():
        raise fail("no accounts yet: create one with `hutong user add NAME --role admin` / "
                   "尚无用户，请先用 hutong user add 创建")  # fmt: skip
    app = create_app(Settings(store_url=store.url, runs=runs, secure_cookies=secure_cookies))
    typer.echo(f"hutong workbench on http://{host}:{port}/ (store {store!r}) · Ctrl-C to stop")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name (letters, digits, _ . @ -)")],
    role: Annotated[
        str, typer.Option(help="coder (proposes), reviewer (approves) or admin (also manages)")
    ] = "coder",
    name: Annotated[str, typer.Option(help="Display name, e.g. 张三")] = "",
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (scripts)")
    ] = False,
    db: DbOption = None,
) -> None:
    """Create a workbench account / 创建工作台用户 (password asked twice, stored hashed)."""
    from hutong.web.accounts import AccountError, Accounts

    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\n")
    else:
        password = getpass.getpass("password / 密码: ")
        if getpass.getpass("again / 再次输入: ") != password:
            raise fail("passwords differ / 两次密码不一致")
    try:
        user = Accounts(open_store(db)).add_user(username, password, role, name)
    except AccountError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"added {user.username} ({user.role}) / 已添加用户")


@user_app.command("list")
def user_list(db: DbOption = None) -> None:
    """List the accounts / 列出用户."""
    from hutong.web.accounts import Accounts

    for user in Accounts(open_store(db)).users():
        typer.echo(f"{user.username}\t{user.role}\t{user.display_name}")
