"""loginload's options in Locust: its parser (``--flag``, ``LOCUST_*`` environment), its web UI.

Generated from :data:`loadtests.options.OPTIONS`. Every option is shown among the web UI's extra
options (an argument group's actions miss the attributes Locust's own ``add_argument`` sets, so they
are set here); what the UI hands back is read again by the same parsers when a run starts.
"""

from __future__ import annotations

import argparse
from argparse import Namespace
from typing import Any

from loadtests.option_types import Parse, text
from loadtests.options import LOCUST, Option, options_for


def argument_type(parse: Parse) -> Any:
    """``parse`` as argparse's ``type=``: its message, not argparse's generic one."""

    def convert(value: str) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _help(o: Option) -> str:
    return f"{o.help} (default {o.shown_default(LOCUST)})"


def add_options(parser: Any) -> None:
    """Register every Locust option on Locust's parser (``events.init_command_line_parser``)."""
    group = parser.add_argument_group("loginload", "the load test's options (also LOCUST_<NAME>)")
    for o in options_for(LOCUST):
        kw: dict[str, Any] = {"dest": o.dest, "default": o.default_for(LOCUST), "help": _help(o)}
        if o.kind == "switch":
            kw["action"] = "store_true"
        elif o.kind == "list":
            kw.update(action="append", type=argument_type(text), metavar=o.metavar)
        else:
            kw.update(type=argument_type(o.parse), choices=o.choices, metavar=o.metavar)
        action = group.add_argument(o.flag, env_var=o.env, **kw)
        action.include_in_web_ui, action.is_secret, action.is_required = True, False, False


def values_of(parsed: Namespace) -> Namespace:
    """The options as Locust holds them (``ll_*``), read again: the web UI hands back text."""
    out = Namespace()
    for o in options_for(LOCUST):
        raw = getattr(parsed, o.dest, o.default_for(LOCUST))
        try:
            setattr(out, o.name, o.parse(raw))
        except ValueError as exc:
            raise ValueError(f"{o.flag}: {exc}") from None
    return out


def destinations(parsed: Namespace) -> dict[str, Any]:
    """The ``ll_*`` values, as the master sends them to its workers."""
    return {o.dest: getattr(parsed, o.dest) for o in options_for(LOCUST) if hasattr(parsed, o.dest)}
