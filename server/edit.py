"""Placeholder blueprint (being written)."""

from flask import Blueprint

bp = Blueprint("edit", __name__)
