"""Placeholder blueprint (being written)."""

from flask import Blueprint

bp = Blueprint("ogcapi", __name__)
