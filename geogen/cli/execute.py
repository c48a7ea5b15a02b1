"""Running a job from the command line: reporter choice, signals, error reporting and exit codes.

Every job command parses its flags into a call of the Python API (``geogen.api``) and hands it to ``execute``,
the one place that prints errors and exits. User mistakes (GeogenError, or a flag value click cannot read) print
one line ``geogen: error: <message>`` on stderr and exit non-zero with no traceback; with ``--progress jsonl``
the same message also goes out as the last JSON line.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn

import click

from geogen.api import CancelToken, Result
from geogen.errors import CancelledError, GeogenError
from geogen.job.runner import install_signal_handlers
from geogen.progress import BarReporter, JsonlReporter, NullReporter, Reporter, capture_library_warnings

PROGRESS_MODES = ("auto", "bar", "jsonl", "none")

ApiCall = Callable[[Reporter, CancelToken], Result]
"""An API function bound to the command's arguments, given the reporter and the cancel token to use."""


def make_reporter(mode: str) -> Reporter:
    """The reporter of a ``--progress`` mode; in every mode warnings also go to stderr as ``warning:`` lines."""
    if mode == "jsonl":
        return JsonlReporter(sys.stdout, warn_stream=sys.stderr)
    if mode == "none" or (mode == "auto" and not sys.stderr.isatty()):
        return NullReporter(warn_stream=sys.stderr)
    return BarReporter(sys.stderr)


def fail(message: str, *, mode: str, code: int, error: str) -> NoReturn:
    if mode == "jsonl":
        JsonlReporter(sys.stdout).event({"type": "error", "error": error, "message": message})
    click.echo(f"geogen: error: {message}", err=True)
    sys.exit(code)


def _pixel_unit(crs: str) -> str:
    """ "m/px", or "deg/px" in a geographic CRS (EPSG:4326...), or the CRS's own linear unit."""
    try:
        from pyproj import CRS

        c = CRS.from_user_input(crs)
    except Exception:
        return "m/px"
    if c.is_geographic:
        return "deg/px"
    unit = c.axis_info[0].unit_name if c.axis_info else "metre"
    return "m/px" if unit in ("metre", "meter") else f"{unit}/px"


def describe(result: Result) -> str:
    """One line per output for people."""
    lines = []
    for o in result.outputs:
        left, _bottom, right, _top = o.bounds
        res = (right - left) / o.width if o.width else 0
        date = f", {o.date}" if o.date else ""
        lines.append(
            f"{o.path}: {len(o.bands)} band(s), {o.width} x {o.height} px at {res:g} {_pixel_unit(o.crs)}, "
            f"{o.crs}{date}" + (", SYNTHETIC" if o.synthetic else "")
        )
    return "\n".join(lines)


def execute(call: ApiCall, progress: str) -> Result:
    """Run ``call`` with the reporter of ``progress`` and a token that SIGTERM/SIGINT set; print its result.

    Exits with the error's code on failure (validation errors of the arguments are user errors too).
    """
    reporter = make_reporter(progress)
    token = CancelToken()
    install_signal_handlers(token)
    # Library warnings (rasterio, shapely, pyproj...) are kept for the result record as they come, and printed
    # only once the job succeeded: never before the one-line error.
    held: list[str] = []
    kept = getattr(reporter, "warnings", None)
    try:
        with capture_library_warnings(held, kept.append if isinstance(kept, list) else None):
            result = call(reporter, token)
    except CancelledError as exc:
        fail(str(exc), mode=progress, code=exc.exit_code, error="CancelledError")
    except GeogenError as exc:
        fail(str(exc), mode=progress, code=exc.exit_code, error=type(exc).__name__)
    except click.ClickException as exc:  # a flag value found unreadable while parsing it
        fail(exc.format_message(), mode=progress, code=2, error="UsageError")
    except KeyboardInterrupt:
        fail("job cancelled", mode=progress, code=130, error="CancelledError")
    except Exception as exc:  # a bug, not a user mistake: say so, keep the traceback for GEOGEN_DEBUG
        if os.environ.get("GEOGEN_DEBUG"):
            traceback.print_exc()
        fail(
            f"internal error ({type(exc).__name__}: {exc}); this is a bug in geogen, please report it "
            "(set GEOGEN_DEBUG=1 to see the traceback)",
            mode=progress,
            code=1,
            error="InternalError",
        )
    for message in held:
        if progress == "jsonl":
            JsonlReporter(sys.stdout).event({"type": "log", "level": "warning", "message": message})
        click.echo(f"warning: {message}", err=True)
    if progress == "jsonl":
        JsonlReporter(sys.stdout).event(
            {"type": "result", "result_path": str(result.result_path), "result": result.to_json()}
        )
    else:
        click.echo(describe(result))
        if result.summary:
            click.echo(result.summary)
        click.echo(f"result: {result.result_path}")
    return result
