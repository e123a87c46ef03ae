"""Aggregated options for the oslo.config.opts entry point."""

from xenballoon_driver import conf


def list_opts():
    opts = []
    for module in conf.MODULES:
        for group, group_opts in module.list_opts().items():
            opts.append((group, group_opts))
    return opts
