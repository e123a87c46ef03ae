"""The package's layout rules, checked on the source (doc/architecture.rst).

Every module belongs to a layer; a module imports only from its own layer
or lower ones, inside functions too, so each part can be read (and
tested) with only what is below it. Modules stay short enough to read.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / 'xenballoon_driver'
MAX_LINES = 300

# Bottom to top; a module's layer is that of its longest matching prefix.
LAYERS = [
    ('common', ['exception', 'units', 'locks', 'clock', 'validation',
                'conf', 'host_identity']),
    ('storage and toolstacks', ['persistence', 'hypervisor']),
    ('ledger and balloon', ['ledger', 'balloon']),
    ('tasks and flows', ['tasks', 'flows']),
    ('driver', ['driver', 'lifecycle', 'resources', 'scheduler',
                'jobboard']),
    ('tools', ['simulator', 'cmd']),
]


def _layer(module):
    """The layer index of a dotted name inside the package."""
    parts = module.split('.')
    for index, (_, prefixes) in enumerate(LAYERS):
        if parts[0] in prefixes:
            return index
    raise AssertionError('%s is in no layer: add it to LAYERS and to '
                         'doc/architecture.rst' % module)


def _modules():
    for path in sorted(PACKAGE.rglob('*.py')):
        rel = path.relative_to(PACKAGE).with_suffix('')
        parts = list(rel.parts)
        if parts[-1] == '__init__':
            parts = parts[:-1]
        if parts:
            yield '.'.join(parts), path


def _imports(module, path):
    """Package-relative names ``module`` imports, wherever in the file."""
    package = module.split('.')
    if path.name != '__init__.py':
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                name = '.'.join(base + ([node.module] if node.module
                                        else []))
                names = ['xenballoon_driver.' + name]
            else:
                names = [node.module or '']
        else:
            continue
        for name in names:
            if name == 'xenballoon_driver':
                # "from xenballoon_driver import x": x is the module.
                for alias in node.names:
                    yield alias.name
            elif name.startswith('xenballoon_driver.'):
                yield name[len('xenballoon_driver.'):]


MODULES = dict(_modules())


@pytest.mark.parametrize('module', sorted(MODULES))
def test_no_import_goes_up_a_layer(module):
    mine = _layer(module)
    upward = sorted(
        '%s (%s)' % (name, LAYERS[_layer(name)][0])
        for name in set(_imports(module, MODULES[module]))
        if _layer(name) > mine)
    assert not upward, '%s (%s) imports from a higher layer: %s' % (
        module, LAYERS[mine][0], ', '.join(upward))


@pytest.mark.parametrize('module', sorted(MODULES))
def test_module_is_short(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, '%s has %d lines (at most %d)' % (
        module, lines, MAX_LINES)


def test_the_check_sees_an_upward_import(tmp_path):
    # The rule itself must be able to fail.
    path = tmp_path / 'ledger.py'
    path.write_text('from xenballoon_driver import driver\n'
                    'def f():\n    from xenballoon_driver.cmd import base\n')
    found = set(_imports('ledger.ledger', path))
    assert found == {'driver', 'cmd'}
    assert _layer('cmd') > _layer('ledger.ledger')
