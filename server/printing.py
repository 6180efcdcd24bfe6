"""Placeholder blueprint (being written)."""

from flask import Blueprint

bp = Blueprint("printing", __name__)
