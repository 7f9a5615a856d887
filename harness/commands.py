"""What every command-line entry point shares: one error handler, the console, the registries.

``harness`` and its sub-commands (attached by plugins through ``register_commands``), and
the stand-alone entry points (``dataset-builder``, ``python -m harness.training``), all
turn the harness's errors into one sentence and an exit code here, never a traceback.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from typing import Any

import click

from harness.errors import HarnessError


def handle(call: Any, debug: bool = False) -> Any:
    """Run ``call()`` the way every command runs: known errors are one sentence."""
    try:
        return call()
    except HarnessError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted: rerun the same command to resume where it stopped", err=True)
        sys.exit(130)
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise
    except BrokenPipeError:  # the reader went away (`harness list ... | head`): say nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as exc:  # the machine said no: permissions, a full disk, a path that is off
        if debug:
            traceback.print_exc()
        click.echo(f"error: {os_error_sentence(exc)}", err=True)
        sys.exit(1)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        else:
            click.echo(
                f"internal error: {type(exc).__name__}: {exc} "
                "(rerun with `harness --debug ...` for the traceback, and report it)",
                err=True,
            )
        sys.exit(1)


OS_HINTS = {
    errno.ENOSPC: "the disk is full: free space (or use another --output) and rerun; what was "
                  "stored is kept",
    errno.EDQUOT: "the disk quota is used up: free space and rerun; what was stored is kept",
    errno.EACCES: "permission denied: this user cannot write or read there",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only: use another --output",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder, not a file",
    errno.ELOOP: "a symbolic link loop",
    errno.ENAMETOOLONG: "the path is too long",
}


def os_error_sentence(exc: OSError) -> str:
    """One sentence for an error the operating system raised."""
    where = exc.filename if exc.filename is not None else "a file"
    hint = OS_HINTS.get(exc.errno or 0) or exc.strerror or str(exc)
    return f"{where}: {hint}"


class HarnessGroup(click.Group):
    """A group whose commands share ``handle`` (``--debug`` on the root shows tracebacks)."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool((ctx.find_root().obj or {}).get("debug"))
        return handle(lambda: super(HarnessGroup, self).invoke(ctx), debug)


def standalone(command: click.Command, prog_name: str, args: list[str] | None = None) -> Any:
    """Run a sub-command as its own program, with the same error handling as ``harness``."""
    try:
        return handle(lambda: command.main(args=args, prog_name=prog_name,
                                           standalone_mode=False))
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)


def console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def registries() -> Any:
    """The registries of every installed plugin: the one place the CLI builds them."""
    from harness.plugin_manager import get_registries

    regs = get_registries()
    for line in regs.warnings:
        click.echo(f"warning: {line}", err=True)
    regs.warnings.clear()  # say each once per process
    return regs
