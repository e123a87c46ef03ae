"""Showing a balloon wait: a live bar on a terminal, log lines otherwise."""

import os
import sys

import tqdm

# Without a terminal, one line per this many seconds of waiting at most.
LINE_EVERY_S = 5.0
DEFAULT_SIZE = (100, 24)
BAR_FORMAT = '{desc}: {percentage:3.0f}%|{bar}| {n}/{total} MiB{postfix}'


def _eta(seconds):
    return '?' if seconds is None else '%.0fs' % seconds


class BalloonProgress:
    """Called with (task_name, details) by the flow's progress updates."""

    def __init__(self, name, stream=None):
        self.name = name
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.bar = None
        self.last_line_at = None

    def __call__(self, task_name, details):
        if 'released_mb' not in details:
            return
        released = int(details['released_mb'])
        total = released + int(details['missing_mb'])
        if total == 0:
            return  # the memory was free already: nothing to show
        rate, eta = details['rate_mb_s'], details['eta_s']
        if self.tty:
            self._bar(released, total, rate, eta)
        else:
            self._line(released, total, rate, eta, details)

    def _bar(self, released, total, rate, eta):
        if self.bar is None:
            # tqdm's own rate and times would be wall-clock; ours are the
            # balloon's.
            self.bar = tqdm.tqdm(total=total, file=self.stream,
                                 desc='freeing for %s' % self.name,
                                 bar_format=BAR_FORMAT,
                                 **self._size())
        self.bar.total = total
        self.bar.n = released
        self.bar.set_postfix_str('%.0f MiB/s, ETA %s' % (rate, _eta(eta)),
                                 refresh=False)
        self.bar.refresh()

    def _size(self):
        # A pseudo-terminal may report a 0 x 0 size: tqdm then draws nothing.
        try:
            size = os.get_terminal_size(self.stream.fileno())
        except (AttributeError, OSError, ValueError):
            size = os.terminal_size((0, 0))
        return {'ncols': size.columns or DEFAULT_SIZE[0],
                'nrows': size.lines or DEFAULT_SIZE[1]}

    def _line(self, released, total, rate, eta, details):
        elapsed = details['elapsed_s']
        done = details['missing_mb'] == 0
        if (not done and self.last_line_at is not None and
                elapsed - self.last_line_at < LINE_EVERY_S):
            return
        self.last_line_at = elapsed
        self.stream.write(
            'balloon: %d/%d MiB freed for %s, %.0f MiB/s, ETA %s, dom0 at '
            '%d MiB\n' % (released, total, self.name, rate, _eta(eta),
                          details['dom0_mb']))
        self.stream.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()
