"""Every command group's help names all of its commands, and every command
says what it does: `om orders --help` once said "list, show, history" and
left out amend, cancel and resume."""

from __future__ import annotations

import re

import click
from click.testing import CliRunner

from om_dsl.cli import main


def _groups(group: click.Group, path: tuple = ("om",)):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield path + (name,), command
            yield from _groups(command, path + (name,))


def _commands(group: click.Group, path: tuple = ("om",)):
    for name, command in sorted(group.commands.items()):
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from _commands(command, path + (name,))


def test_there_are_groups_to_check():
    assert {" ".join(p) for p, _ in _groups(main)} >= {"om orders", "om tasks", "om assets", "om systems", "om hub"}


def test_each_group_help_names_every_subcommand():
    missing = []
    for path, group in _groups(main):
        summary = group.help or ""
        for name in group.commands:
            if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", summary):
                missing.append(f"`{' '.join(path)} --help` does not name `{name}`: {summary!r}")
    assert not missing, "\n".join(missing)


def test_the_help_as_printed_names_them_too():
    r = CliRunner().invoke(main, ["orders", "--help"])
    first = r.output.split("Options:")[0]
    for name in ("list", "show", "history", "amend", "cancel", "resume"):
        assert name in first
    r = CliRunner().invoke(main, ["tasks", "--help"])
    first = r.output.split("Options:")[0]
    for name in ("list", "complete", "retry", "skip"):
        assert name in first


def test_every_command_says_what_it_does():
    silent = [" ".join(path) for path, command in _commands(main) if not (command.help or "").strip()]
    assert not silent
