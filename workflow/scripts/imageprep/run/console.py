"""What a standalone Snakemake run shows on the terminal: the job counts, progress, errors and
imageprep's closing line, so that the demo fits a screen. Snakemake's job-by-job detail (each
job's block, "Select jobs to execute...", the host header) still goes to its own log file
(.snakemake/log/), which it names at the end; ``--verbose`` shows everything on the terminal
too. It is a filter on Snakemake's console handler, through the standard logging API:
nothing of Snakemake is patched. Only the main process of a standalone run installs it (a
parent workflow keeps its own terminal).

Ctrl-C prints one line here and nothing after it: the jobs stop after the image in hand and
keep the rows of what they made (imageprep.run.shard_job), so the rerun does only the rest.
"""

import contextlib
import logging
import signal
import sys
from collections.abc import Callable

CONSOLE = "DefaultStreamHandler"  # the name Snakemake gives its terminal handler
# Scheduler chatter with no event of its own, one pair per round of jobs.
CHATTER = ("Select jobs to execute...", "Execute ")


class ShortConsole(logging.Filter):
    """Drops the per-job detail; after Ctrl-C, everything (the one line is said)."""

    def __init__(self, nothing_to_do: Callable[[], str]) -> None:
        super().__init__()
        from snakemake.common import NOTHING_TO_BE_DONE_MSG
        from snakemake.settings.enums import Quietness
        from snakemake_interface_logger_plugins.common import LogEvent

        self.detail = {LogEvent.JOB_INFO, LogEvent.GROUP_INFO, LogEvent.JOB_FINISHED}
        self.host, self.nothing = Quietness.HOST, NOTHING_TO_BE_DONE_MSG
        self.nothing_to_do = nothing_to_do
        self.interrupted = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.interrupted:
            return False
        if getattr(record, "event", None) in self.detail:
            return False
        if getattr(record, "quietness", None) == self.host:
            return False
        msg = record.msg
        if isinstance(msg, str):
            if msg.startswith(CHATTER) and msg.endswith("..."):
                return False
            if msg == self.nothing:  # no job runs, so no onsuccess: the closing line here
                record.msg = f"{msg}\n{self.nothing_to_do()}"
        return True


def install(
    handlers: list[logging.Handler], nothing_to_do: Callable[[], str], interrupted: str
) -> ShortConsole | None:
    """Filter Snakemake's terminal handler; on Ctrl-C, say ``interrupted`` once and let
    Snakemake stop its jobs as it does (it waits for them)."""
    console = next((h for h in handlers if h.name == CONSOLE), None)
    if console is None:  # another logger plugin, or none: leave its output alone
        return None
    short = ShortConsole(nothing_to_do)
    console.addFilter(short)

    def on_ctrl_c(signum: int, frame: object) -> None:
        if not short.interrupted:
            short.interrupted = True
            print(interrupted, file=sys.stderr, flush=True)
        raise KeyboardInterrupt

    # Not from the main thread (Snakemake driven from a thread): Ctrl-C stays Snakemake's.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, on_ctrl_c)
    return short
