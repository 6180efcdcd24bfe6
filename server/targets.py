"""Placeholder blueprint (being written)."""

from flask import Blueprint

bp = Blueprint("targets", __name__)
