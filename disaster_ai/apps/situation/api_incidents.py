"""JSON endpoints of the situation app (being built)."""

from flask import Blueprint

bp = Blueprint("situation_incidents", __name__, url_prefix="/api/v1")
