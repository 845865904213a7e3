"""Uploaded layer files (API and desk page alike): save them under fixed names in a temporary
folder, pair them with mappings, and import them through the one import path."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from flask_babel import gettext as _

from disaster_ai.apps.situation import importer


class UploadProblem(ValueError):
    """A form-level problem (not in the geodata itself): which field, and why."""

    def __init__(self, field: str, code: str, message: str):
        super().__init__(message)
        self.field, self.code, self.message = field, code, message


def import_uploads(layer: str, files, mapping_uploads, mapping_names: list[str]) -> dict:
    """Import werkzeug FileStorage uploads as a new version of ``layer``; raises UploadProblem
    or importer.GeoImportError, and writes nothing then. The files are removed afterwards."""
    if mapping_uploads and mapping_names:
        raise UploadProblem(
            "mapping", "conflict", _("Give either mapping names or mapping files, not both.")
        )
    with tempfile.TemporaryDirectory(prefix="dai-upload-") as tmp:
        directory = Path(tmp)
        mapping_specs = []
        for upload in mapping_uploads:
            try:
                text = upload.read().decode("utf-8", errors="strict")
            except UnicodeDecodeError:
                raise UploadProblem(
                    "mapping_file", "encoding", _("The mapping file must be UTF-8 text.")
                ) from None
            mapping_specs.append(importer.parse_mapping(text, Path(upload.filename).name))
        # Names from a form are built-in mappings only, never paths on this machine.
        mapping_specs += [importer.builtin_mapping(n.strip()) for n in mapping_names]
        paired = importer.pair_mappings(files, mapping_specs, layer)
        sources = []
        for index, (upload, mapping) in enumerate(zip(files, paired, strict=True)):
            # A fixed name: the user's file name is shown in messages, never used as a path.
            suffix = Path(upload.filename).suffix.lower()
            safe_suffix = suffix if re.fullmatch(r"[.][a-z0-9]{1,10}", suffix) else ""
            path = directory / f"upload-{index}{safe_suffix}"
            upload.save(path)
            sources.append(importer.Source(path, mapping, Path(upload.filename).name))
        return importer.import_layer(layer, sources)
