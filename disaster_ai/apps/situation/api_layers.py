"""Layer endpoints: list the layers and their versions, serve a layer as GeoJSON, upload a new
version, roll back. Views parse and check input, then call the importer (the service)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _

from disaster_ai.api.framework import api_doc
from disaster_ai.apps.situation import importer, layers, uploads
from disaster_ai.apps.situation.models import LAYERS
from disaster_ai.auth import requires
from disaster_ai.errors import ApiError
from disaster_ai.storage.engine import db

bp = Blueprint("situation_layers", __name__, url_prefix="/api/v1")

FORM_OVERHEAD = 1024 * 1024  # room for the form fields and multipart boundaries of an upload


@bp.url_value_preprocessor
def _allow_large_uploads(endpoint, _values):
    """An upload may be bigger than MAX_CONTENT_LENGTH: raise this request's limit before
    anything reads the body (url_value_preprocessors run before the app's before_request
    functions, one of which reads the form for the CSRF check of browser sessions)."""
    if endpoint == "situation_layers.upload_layer" and request.method == "POST":
        request.max_content_length = current_app.config["GEO_IMPORT_MAX_BYTES"] + FORM_OVERHEAD


def _check_layer(name: str) -> None:
    if name not in LAYERS:
        raise ApiError(
            404,
            "not_found",
            _("No layer named %(name)s. Layers: %(layers)s.", name=name, layers=", ".join(LAYERS)),
        )


@bp.get("/layers")
@requires("situation.view")
@api_doc(responses={200: "Every layer: the active version and the kept versions"}, tag="situation")
def list_layers():
    """The layers with their active version and every kept version (newest first)."""
    return jsonify({"layers": importer.layer_overview()})


@bp.get("/layers/<name>")
@requires("situation.view")
@api_doc(
    responses={200: "GeoJSON FeatureCollection (EPSG:4326) with layer, version and attribution"},
    tag="situation",
)
def get_layer(name: str):
    """The active version of a layer as a GeoJSON FeatureCollection.

    Each feature's properties hold key, name, name_kana and the layer's own fields (for shelters:
    kind, hazards, capacity, capacity_derived …). ``features`` is empty while nothing is imported.
    """
    _check_layer(name)
    response = current_app.json.response(layers.layer_geojson(db(), name))
    response.mimetype = "application/geo+json"
    return response


@bp.post("/layers/<name>")
@requires("geo.import")
@api_doc(
    responses={
        201: "The new active version, with the import report",
        413: "A file over GEO_IMPORT_MAX_BYTES",
        422: "Bad input: details.file, details.row and details.problem say what and where",
    },
    tag="situation",
)
def upload_layer(name: str):
    """Import uploaded files as a new version of a layer (multipart/form-data).

    Fields: ``files`` (one or more files: GeoJSON, GeoPackage, zipped Shapefile, CSV), and either
    ``mapping`` (a built-in mapping name, or several, one per file) or ``mapping_file`` (TOML
    mapping files, one for all files or one per file). Without either, each file's format is
    recognised from its columns (the built-in national mappings), else the layer's default
    mapping is used. All files are checked before anything is written; the previous version is kept.
    """
    _check_layer(name)
    files = [
        f for f in request.files.getlist("files") + request.files.getlist("files[]") if f.filename
    ]
    if not files:
        raise ApiError(
            422,
            "invalid",
            _("Send the geodata as one or more files in the field files."),
            {"fields": {"files": "missing"}},
        )
    mapping_uploads = [f for f in request.files.getlist("mapping_file") if f.filename]
    mapping_names = [n for n in request.form.getlist("mapping") if n.strip()]
    try:
        summary = uploads.import_uploads(name, files, mapping_uploads, mapping_names)
    except uploads.UploadProblem as exc:
        raise ApiError(422, "invalid", exc.message, {"fields": {exc.field: exc.code}}) from None
    except importer.GeoImportError as exc:
        status = 413 if exc.reason == "too_large" else 422
        raise ApiError(
            status, "too_large" if status == 413 else "invalid", exc.message, exc.details()
        ) from None
    return jsonify(summary), 201


@bp.post("/layers/<name>/versions/<int:version>/activate")
@requires("geo.import")
@api_doc(responses={200: "The version that is now active"}, tag="situation")
def activate_layer_version(name: str, version: int):
    """Make a kept version of a layer the active one again (rollback)."""
    _check_layer(name)
    try:
        data = importer.activate(name, version)
    except LookupError:
        raise ApiError(
            404,
            "not_found",
            _("Layer %(name)s has no version %(version)s.", name=name, version=version),
        ) from None
    return jsonify(data)
