"""Placeholder blueprint (being written)."""

from flask import Blueprint

bp = Blueprint("export", __name__)
