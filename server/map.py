"""Placeholder blueprint (being written)."""

from flask import Blueprint

bp = Blueprint("map", __name__)
