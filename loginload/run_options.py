"""The flags of ``loginload run``, ``smoke`` and ``report``, generated from :mod:`loadtests.options`.

``run`` and ``smoke`` take each flag as text and read it with the option's own parser in
:func:`resolve`, where the config file's values were read with the same parsers: a bad value is one
line naming the flag (or the file, table and key), whichever it came from, and it is found before a
folder is made or a process started. Precedence: the entry point's default, then ``loginload.toml``
(``[run]`` or ``[smoke]``, and ``[slo]``), then the flags.
"""

from __future__ import annotations

import argparse
from argparse import Namespace
from typing import Any

from loadtests.locust_options import argument_type
from loadtests.options import REPORT, SLO_OPTIONS, SMOKE, defaults, options_for
from loginload.project_config import ProjectConfig


def _literal(help_text: str) -> str:
    """*help_text* as argparse prints it: it %-formats help (``%(default)s``), so a "110%" in an
    option's help made ``--help`` raise."""
    return help_text.replace("%", "%%")


def add_flags(parser: argparse.ArgumentParser, entry: str) -> None:
    for o in options_for(entry):
        kw: dict[str, Any] = {"dest": o.name, "default": None}
        if o.kind == "switch":
            kw.update(action="store_const", const=True)
        else:
            kw.update(action="append" if o.kind == "list" else "store", metavar=o.metavar)
        parser.add_argument(o.flag, help=_literal(f"{o.help} (default {o.shown_default(entry)})"), **kw)


def resolve(entry: str, args: Namespace, config: ProjectConfig) -> Namespace:
    """Every option of ``entry``: its default, then the config file's value, then the flag's."""
    values = defaults(entry)
    for o in SLO_OPTIONS:
        setattr(values, o.name, getattr(config.slo, o.key))
    for name, value in (config.smoke if entry == SMOKE else config.run).items():
        setattr(values, name, value)
    for o in options_for(entry):
        given = getattr(args, o.name, None)
        if given is None:
            continue
        try:
            setattr(values, o.name, o.parse(given))
        except ValueError as exc:
            raise ValueError(f"{o.flag}: {exc}") from None
    return values


def add_slo_flags(parser: argparse.ArgumentParser) -> None:
    """``report`` and ``compare``: the SLO's flags (argparse reads them: nothing else is started)."""
    group = parser.add_argument_group("SLO (default: the run's run.json, else the defaults shown)")
    for o in options_for(REPORT):
        shown = _literal(f"{o.help} (default {o.default})")
        group.add_argument(o.flag, dest=o.name, type=argument_type(o.parse), metavar="N", help=shown)


def slo_overrides(args: Namespace) -> dict[str, float]:
    """The SLO flags given, as :class:`loadtests.slo.Slo` fields."""
    return {o.key: getattr(args, o.name) for o in SLO_OPTIONS if getattr(args, o.name, None) is not None}
