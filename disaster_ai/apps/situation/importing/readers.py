"""Reading one file into a raw frame: GeoJSON, GeoPackage, Shapefile (zipped or not), CSV and
JSON record arrays; Shift_JIS detection; the coordinate columns of tables."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from disaster_ai.apps.situation.importing.common import (
    FORMATS,
    GEOJSON_CRS,
    GeoImportError,
    _,
    _nfkc,
)
from disaster_ai.apps.situation.importing.mappings import Mapping


class _Reader:
    """File → (GeoDataFrame or DataFrame with a geometry column, CRS or None, info)."""

    def __init__(self, path: Path, display: str, layer: str, mapping: Mapping, max_bytes: int):
        self.path, self.display, self.layer, self.mapping, self.max_bytes = (
            path,
            display,
            layer,
            mapping,
            max_bytes,
        )

    def fail(self, problem: str, reason: str, row: int | None = None):
        raise GeoImportError(problem, file=self.display, row=row, reason=reason)

    def read(self):
        if not self.path.is_file():
            self.fail(_("cannot read the file: it does not exist"), "unreadable")
        size = self.path.stat().st_size
        if size > self.max_bytes:
            self.fail(
                _(
                    "the file is %(size)s bytes, over the limit of %(limit)s bytes (GEO_IMPORT_MAX_BYTES)",
                    size=size,
                    limit=self.max_bytes,
                ),
                "too_large",
            )
        if size == 0:
            self.fail(_("the file is empty"), "empty")
        suffix = self.path.suffix.lower()
        fmt = FORMATS.get(suffix)
        if fmt is None:
            self.fail(
                _(
                    "unsupported file type %(suffix)s; use GeoJSON (.geojson, .json), GeoPackage (.gpkg), "
                    "a zipped Shapefile (.zip) or CSV (.csv)",
                    suffix=suffix or "(none)",
                ),
                "unsupported",
            )
        digest = _file_digest(self.path)
        if fmt == "CSV":
            frame, crs, encoding, caught = self._read_csv()
        elif fmt == "Shapefile (zip)":
            with tempfile.TemporaryDirectory(prefix="dai-shp-") as tmp:
                shp = self._unzip_shapefile(Path(tmp))
                frame, crs, encoding, caught = self._read_shapefile(shp)
        elif fmt == "Shapefile":
            frame, crs, encoding, caught = self._read_shapefile(self.path)
        elif fmt == "GeoJSON" and _is_json_array(self.path):
            fmt = "JSON records"
            frame, crs, encoding, caught = self._read_json_records()
        else:
            frame, crs, encoding, caught = self._read_vector(self.path, fmt)
        if len(frame) == 0:
            self.fail(_("the file has no features"), "empty")
        return (
            frame,
            crs,
            {"format": fmt, "encoding": encoding, "warnings": caught, "digest": digest},
        )

    # GeoJSON, GeoPackage and Shapefile go through GDAL (pyogrio).
    def _read_vector(self, path: Path, fmt: str, encoding: str | None = None):
        kwargs = {}
        if fmt == "GeoPackage":
            kwargs["layer"] = self._gpkg_layer(path)
        if fmt == "GeoJSON":
            self._check_geojson_crs(path)
        if encoding:
            kwargs["encoding"] = encoding
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frame = pyogrio.read_dataframe(path, **kwargs)
            except (pyogrio.errors.CRSError, CRSError) as exc:
                self.fail(
                    _(
                        "unknown coordinate reference system: %(reason)s",
                        reason=self._clean(str(exc), path),
                    ),
                    "unknown_crs",
                )
            except Exception as exc:  # GDAL's errors for broken files come in many types
                self.fail(
                    _("cannot read the file: %(reason)s", reason=self._clean(str(exc), path)),
                    "unreadable",
                )
        if not isinstance(frame, gpd.GeoDataFrame) or frame.active_geometry_name is None:
            self.fail(_("the file has no geometry column"), "missing_geometry")
        frame = frame.rename_geometry("geometry") if frame.geometry.name != "geometry" else frame
        return frame, frame.crs, encoding, [self._clean(str(w.message), path) for w in caught]

    def _check_geojson_crs(self, path: Path) -> None:
        """GDAL quietly reads a GeoJSON whose legacy "crs" member it does not know as WGS 84;
        refuse it instead (RFC 7946 GeoJSON has no "crs" member and is always WGS 84)."""
        with path.open("rb") as f:
            head = f.read(65536).decode("utf-8", errors="replace")
        match = GEOJSON_CRS.search(head)
        if match:
            try:
                CRS.from_user_input(match.group(1))
            except CRSError:
                self.fail(
                    _("unknown coordinate reference system %(crs)s", crs=match.group(1)[:80]),
                    "unknown_crs",
                )

    def _gpkg_layer(self, path: Path) -> str:
        try:
            layers = pyogrio.list_layers(path)
        except Exception as exc:
            self.fail(
                _("cannot read the file: %(reason)s", reason=self._clean(str(exc), path)),
                "unreadable",
            )
        names = [str(name) for name, geometry_type in layers if geometry_type is not None]
        if self.mapping.source_layer:
            if self.mapping.source_layer not in names:
                self.fail(
                    _(
                        "the GeoPackage has no layer %(name)s (layers: %(layers)s)",
                        name=self.mapping.source_layer,
                        layers=", ".join(names),
                    ),
                    "missing_column",
                )
            return self.mapping.source_layer
        if len(names) != 1:
            if not names:
                self.fail(_("the GeoPackage holds no layer with geometries"), "missing_geometry")
            self.fail(
                _(
                    "the GeoPackage holds several layers (%(layers)s); name one with source_layer in "
                    "the mapping",
                    layers=", ".join(names),
                ),
                "unreadable",
            )
        return names[0]

    def _unzip_shapefile(self, target: Path) -> Path:
        try:
            archive = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            self.fail(_("cannot read the file: %(reason)s", reason=str(exc)), "unreadable")
        with archive:
            members = [
                m
                for m in archive.infolist()
                if not m.is_dir()
                and not m.filename.startswith("__MACOSX/")
                and not Path(m.filename).name.startswith(".")
            ]
            total = sum(m.file_size for m in members)
            if total > self.max_bytes:
                self.fail(
                    _(
                        "the zip file unpacks to %(size)s bytes, over the limit of %(limit)s bytes "
                        "(GEO_IMPORT_MAX_BYTES)",
                        size=total,
                        limit=self.max_bytes,
                    ),
                    "too_large",
                )
            shps = [m for m in members if m.filename.lower().endswith(".shp")]
            if not shps:
                self.fail(_("the zip file holds no Shapefile (.shp)"), "unreadable")
            if len(shps) > 1:
                self.fail(
                    _(
                        "the zip file holds %(count)s Shapefiles; put one Shapefile in each zip",
                        count=len(shps),
                    ),
                    "unreadable",
                )
            stem = shps[0].filename[:-4]
            wanted = {}
            for member in members:
                base, _dot, ext = member.filename.rpartition(".")
                if base == stem and ext.lower() in {"shp", "shx", "dbf", "prj", "cpg"}:
                    wanted[ext.lower()] = member
            for part in ("shx", "dbf"):
                if part not in wanted:
                    self.fail(
                        _(
                            "the Shapefile %(name)s lacks its .%(part)s part",
                            name=Path(shps[0].filename).name,
                            part=part,
                        ),
                        "unreadable",
                    )
            for ext, member in wanted.items():
                # Extract under fixed names: member names never become paths on this machine.
                (target / f"layer.{ext}").write_bytes(archive.read(member))
        return target / "layer.shp"

    def _read_shapefile(self, shp: Path):
        encoding = self.mapping.encoding
        cpg = next(
            (p for p in shp.parent.glob(shp.stem + ".*") if p.suffix.lower() == ".cpg"), None
        )
        if encoding is None and cpg is None:
            dbf = next(
                (p for p in shp.parent.glob(shp.stem + ".*") if p.suffix.lower() == ".dbf"), None
            )
            encoding = _sniff_dbf_encoding(dbf) if dbf else None
        frame, crs, _enc, caught = self._read_vector(shp, "Shapefile", encoding)
        if encoding is None and cpg is not None:
            encoding = cpg.read_text(encoding="ascii", errors="replace").strip() or None
        return frame, crs, encoding, caught

    def _read_csv(self):
        data = self.path.read_bytes()
        encoding = self.mapping.encoding
        if encoding is None:
            encoding = _sniff_text_encoding(data)
            if encoding is None:
                self.fail(
                    _(
                        "cannot read the file: it is neither UTF-8 nor Shift_JIS; set encoding in the mapping"
                    ),
                    "unreadable",
                )
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            self.fail(
                _(
                    "cannot read the file as %(encoding)s: %(reason)s",
                    encoding=encoding,
                    reason=str(exc),
                ),
                "unreadable",
            )
        text = text.lstrip("\ufeff")
        first_line = text.split("\n", 1)[0]
        delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
        rows = [
            row
            for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            if any(cell.strip() for cell in row)
        ]
        if not rows:
            self.fail(_("the file is empty"), "empty")
        header = [cell.strip() for cell in rows[0]]
        seen = set()
        for column in header:
            if column in seen:
                self.fail(
                    _("the header names the column %(column)s twice", column=column), "unreadable"
                )
            seen.add(column)
        body = []
        for number, row in enumerate(rows[1:], start=1):
            if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
                self.fail(
                    _(
                        "the row has %(found)s fields, the header %(expected)s",
                        found=len(row),
                        expected=len(header),
                    ),
                    "unreadable",
                    row=number,
                )
            body.append((row + [""] * len(header))[: len(header)])
        frame = pd.DataFrame(body, columns=header, dtype=object)
        return self._points(frame, header, encoding)

    def _read_json_records(self):
        """A JSON array of flat objects with latitude/longitude members, e.g. Geolonia's
        japanese-addresses ``api/ja/<都道府県>/<市区町村>.json`` ({town, koaza, lat, lng})."""
        try:
            data = json.loads(self.path.read_bytes().decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.fail(_("cannot read the file: %(reason)s", reason=str(exc)), "unreadable")
        if not data or not all(isinstance(item, dict) for item in data):
            self.fail(_("the JSON array holds no records (objects)"), "unreadable")
        header = list(dict.fromkeys(str(k) for item in data for k in item))
        frame = pd.DataFrame(
            [[item.get(k) for k in header] for item in data], columns=header, dtype=object
        )
        return self._points(frame, header, "utf-8")

    def _points(self, frame, header, encoding):
        if len(frame) == 0:
            self.fail(_("the file has no features"), "empty")
        lat_column = _find_column(header, self.mapping.lat, exact=self.mapping.lat_lon_explicit)
        lon_column = _find_column(header, self.mapping.lon, exact=self.mapping.lat_lon_explicit)
        if lat_column is None or lon_column is None:
            self.fail(
                _(
                    "no latitude/longitude columns; name them with [csv] lat and lon in the mapping "
                    "(columns: %(columns)s)",
                    columns=", ".join(header),
                ),
                "missing_column",
            )
        points = []
        for number, (lat, lon) in enumerate(
            zip(frame[lat_column], frame[lon_column], strict=True), start=1
        ):
            lat_text, lon_text = _nfkc(lat), _nfkc(lon)
            if not lat_text or not lon_text:
                self.fail(
                    _(
                        "missing geometry (%(lat)s/%(lon)s is empty)",
                        lat=lat_column,
                        lon=lon_column,
                    ),
                    "missing_geometry",
                    row=number,
                )
            try:
                points.append((float(lon_text), float(lat_text)))
            except ValueError:
                self.fail(
                    _(
                        "the latitude/longitude %(lat)s, %(lon)s is not a pair of numbers",
                        lat=lat,
                        lon=lon,
                    ),
                    "bad_coordinates",
                    row=number,
                )
        coords = np.array(points, dtype=float)
        frame["geometry"] = shapely.points(coords[:, 0], coords[:, 1])
        crs = CRS.from_user_input(self.mapping.crs) if self.mapping.crs else CRS.from_epsg(4326)
        return frame, crs, encoding, []

    def _clean(self, text: str, path: Path) -> str:
        # GDAL messages name the temporary path; show the user's file name instead.
        text = text.split("; It might help to specify the correct driver")[0]
        return text.replace(str(path), self.display).replace(str(path.parent) + "/", "")


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _find_column(header: list[str], candidates, *, exact: bool) -> str | None:
    for candidate in candidates:
        if candidate in header:
            return candidate
    if exact:
        return None
    lowered = {column.lower(): column for column in header}
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return None


def _sniff_text_encoding(data: bytes) -> str | None:
    """UTF-8 (with or without BOM) when it decodes as such, else Shift_JIS (cp932), else None."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            data.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    return None


def _sniff_dbf_encoding(dbf: Path, limit: int = 4 * 1024 * 1024) -> str | None:
    """A .dbf without .cpg: look at its bytes. ASCII only → None (GDAL's default is fine); valid
    UTF-8 → UTF-8; valid cp932 → CP932 (Shift_JIS as written by Japanese Windows software)."""
    with dbf.open("rb") as f:
        head = f.read(32)
        if len(head) < 32:
            return None
        header_length = int.from_bytes(head[8:10], "little")
        record_length = max(int.from_bytes(head[10:12], "little"), 1)
        f.seek(0)
        records = max((limit - header_length) // record_length, 0)
        data = f.read(header_length + records * record_length)  # whole records only
    body = data[32:]
    if all(b < 0x80 for b in body):
        return None
    for encoding in ("utf-8", "cp932"):
        try:
            body.decode(encoding)
            return encoding.upper()
        except UnicodeDecodeError:
            continue
    return None


def _is_json_array(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")
