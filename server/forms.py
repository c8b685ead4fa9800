"""Helpers shared by the blueprints' forms."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm


def flash_errors(form: FlaskForm) -> None:
    """Flash each field's validation errors, named by the field's label."""
    for field in form:
        for error in field.errors:
            flash(f"{field.label.text}: {error}", "error")
