"""Diagnostics shared by every stage: what went wrong, where, and how to fix it."""

from om_dsl.diagnostics.diagnostic import Diagnostic, Label, Severity, error, warning
from om_dsl.diagnostics.render import render_json, render_text

__all__ = ["Diagnostic", "Label", "Severity", "error", "warning", "render_json", "render_text"]
