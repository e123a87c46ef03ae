"""The README shows what ./run-demo.sh prints, table and all."""

import os

from tests.functional import base

README = os.path.join(os.path.dirname(__file__), '..', '..', 'README.rst')
INTRO = "What ``./run-demo.sh`` prints"


def _readme_table():
    """The literal block after INTRO, unindented."""
    with open(README, encoding='utf-8') as f:
        text = f.read()
    block = text[text.index(INTRO):].split('::\n\n', 1)[1]
    lines = []
    for line in block.splitlines():
        if not line.startswith('    '):
            break
        lines.append(line[4:])
    return lines


def test_readme_demo_output_is_what_the_command_prints(tmp_path):
    # run-demo.sh's default command, on the shipped scenario; the test's
    # own config file keeps any /etc/xenballoon config out of it.
    host = base.Host(tmp_path)
    result = host.run('simulate', '--strategy', 'all')
    assert result.rc == 0, result
    assert result.stdout.splitlines() == _readme_table()
