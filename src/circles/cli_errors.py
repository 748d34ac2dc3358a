"""Errors of the ``circles`` script in one line: :class:`OneLineErrors` is the Typer app class of
:mod:`circles.cli` (usage errors and unexpected exceptions as ``error: …`` on stderr)."""

from __future__ import annotations

import logging
import sys
from typing import Any, NoReturn

import typer
from typer.exceptions import TyperException

__all__ = ["OneLineErrors", "exit_with"]

log = logging.getLogger("circles")


class OneLineErrors(typer.Typer):
    """A Typer app whose errors are one line on stderr: usage errors (a bad option value, a missing
    option; exit 2) and unexpected exceptions (exit 1; re-raised with their traceback under
    ``--verbose``). ``circles`` with no arguments still shows the help."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if "standalone_mode" in kwargs:
            return super().__call__(*args, **kwargs)
        try:
            rv = super().__call__(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            exit_with("aborted", 1)
        except TyperException as e:  # click's usage errors (typer's own copy of click)
            if type(e).__name__ == "NoArgsIsHelpError":
                return super().__call__(*args, **kwargs)  # the help, as before
            ctx = getattr(e, "ctx", None)
            where = f"{ctx.command_path}: " if ctx is not None else ""
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            message = e.format_message() if hasattr(e, "format_message") else str(e)
            exit_with(f"{where}{message}{hint}".replace("\n", " "), int(getattr(e, "exit_code", 2)))
        except Exception as e:
            if log.isEnabledFor(logging.INFO):  # --verbose: the whole traceback
                raise
            exit_with(
                f"unexpected {type(e).__name__}: {e} (run with -v for the details)".replace("\n", " "), 1
            )
        sys.exit(rv if isinstance(rv, int) else 0)


def exit_with(msg: str, code: int) -> NoReturn:
    """``error: msg`` on stderr and exit ``code`` (outside a command, where typer.Exit is not caught)."""
    typer.echo(f"error: {msg}", err=True)
    sys.exit(code)
