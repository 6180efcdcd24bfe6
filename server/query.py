"""Placeholder blueprint (being written)."""

from flask import Blueprint

bp = Blueprint("query", __name__)
