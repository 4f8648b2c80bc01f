"""Case photos: checked by their content (JPEG, PNG or WebP, whatever the name or declared type
says), limited in bytes and pixels, their EXIF GPS position read, then every piece of metadata
stripped by re-encoding the pixels, and stored under the SHA-256 of the stored bytes (the same
photo uploaded twice is stored once).

`clean_photo` is pure (bytes in, bytes out, no database); `store_photo` and `photo_path` are the
database side. Errors are domain errors: the router maps the two photo-specific ones to 415 and
413."""

from __future__ import annotations

import asyncio
import hashlib
import math
import struct
import threading
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

from backend.audit.chain import append as audit
from backend.errors import CityOpsError, InvalidInput, NotFound
from backend.incidents.photo_files import PhotoFiles
from backend.settings import Settings

ACCEPTED = "JPEG, PNG or WebP"
# Pillow's names of what we accept (MPO: the multi-picture JPEG many phone cameras write; its
# first picture is a plain JPEG) and the type we store each as.
FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
OPENERS = ["JPEG", "PNG", "WEBP"]  # the only decoders Pillow may try
JPEG_QUALITY = 90
WEBP_QUALITY = 90
SHA256_HEX = frozenset("0123456789abcdef")


class UnsupportedPhoto(InvalidInput):
    """Not a readable JPEG, PNG or WebP image (415)."""


class PhotoTooLarge(InvalidInput):
    """Over the byte or pixel limit (413)."""


class PhotosBusy(CityOpsError):
    """Every decode slot stayed taken for the whole wait (503)."""


@dataclass(frozen=True)
class CleanPhoto:
    """A photo ready to store: re-encoded pixels without metadata, and what was read first."""

    data: bytes
    content_type: str
    width: int
    height: int
    taken_lon: float | None = None
    taken_lat: float | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


# Reading -----------------------------------------------------------------------------------

def _degrees(value: Any, ref: Any, negative: str) -> float | None:
    """EXIF (degrees, minutes, seconds) rationals and a hemisphere letter -> decimal degrees."""
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(v) for v in (d, m, s)):
        return None
    out = d + m / 60.0 + s / 3600.0
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    if str(ref or "").strip().upper() == negative:
        out = -out
    return round(out, 7)


def gps_position(image: Image.Image) -> tuple[float | None, float | None]:
    """(lon, lat) from the EXIF GPS block, or (None, None) when absent or nonsensical."""
    try:
        gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:  # noqa: BLE001 - a broken EXIF block only means no position
        return None, None
    if not gps or 2 not in gps or 4 not in gps:
        return None, None
    lat = _degrees(gps.get(2), gps.get(1), "S")
    lon = _degrees(gps.get(4), gps.get(3), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    if lat == 0 and lon == 0:  # a camera without a fix writes zeros
        return None, None
    return lon, lat


def _unreadable() -> UnsupportedPhoto:
    return UnsupportedPhoto(
        f"The file is not a {ACCEPTED} image (checked by its content, not its name or type): "
        "send a photo from the camera")


def _probe(data: bytes, max_pixels: int) -> Image.Image:
    """Open lazily (Pillow reads the header only), check the format and the pixel count
    against `max_pixels` before a single pixel is decoded, and verify the structure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(BytesIO(data), formats=OPENERS)
            if probe.format not in FORMATS:
                raise _unreadable()
            if probe.width * probe.height > max_pixels:
                raise PhotoTooLarge(
                    f"The image has {probe.width} x {probe.height} pixels; at most "
                    f"{max_pixels:,} pixels are accepted (photo_max_pixels): send the camera's "
                    "normal size")
            probe.verify()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoTooLarge(f"The image has too many pixels: at most {max_pixels:,} "
                                "are accepted (photo_max_pixels)") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
                struct.error) as exc:
            raise _unreadable() from exc
    return probe


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Checked by `_probe`, then reopened and decoded, as Pillow asks after verify()."""
    _probe(data, max_pixels)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(BytesIO(data), formats=OPENERS)
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning,
                UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
                struct.error) as exc:
            raise _unreadable() from exc
    return image


# Cleaning ----------------------------------------------------------------------------------

def _to_srgb(image: Image.Image) -> Image.Image:
    """Pixels in sRGB, so that dropping the colour profile does not change how they look."""
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode=mode)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: take the pixels as they are
    if image.mode == "CMYK":
        return image.convert("RGB")
    return image


def _flatten(image: Image.Image, keep_alpha: bool) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info)
    if has_alpha and keep_alpha:
        return image.convert("RGBA")
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode == "L" and not keep_alpha:
        return image
    return image.convert("RGB")


def _encode(image: Image.Image, kind: str) -> bytes:
    out = BytesIO()
    if kind == "image/jpeg":
        image = _flatten(image, keep_alpha=False)
        image.save(out, "JPEG", quality=JPEG_QUALITY)
    elif kind == "image/webp":
        image = _flatten(image, keep_alpha=True)
        image.save(out, "WEBP", quality=WEBP_QUALITY)
    else:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
            image = _flatten(image, keep_alpha=True)
        image.save(out, "PNG")
    return out.getvalue()


def clean_photo(data: bytes, max_pixels: int) -> CleanPhoto:
    """Check `data` is a JPEG, PNG or WebP by its content, read its EXIF GPS position, apply
    its EXIF orientation to the pixels, and re-encode them without any metadata (EXIF, XMP,
    comments, text chunks, colour profile: the pixels are converted to sRGB first)."""
    if not data:
        raise InvalidInput("The upload is empty: send the photo's bytes")
    image = _open(data, max_pixels)
    kind = FORMATS[str(image.format)]
    lon, lat = gps_position(image)
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # an animation: its first frame
    upright = ImageOps.exif_transpose(image) or image
    upright = _to_srgb(upright)
    upright.info = {}  # nothing of the original's metadata may reach the encoder
    stored = _encode(upright, kind)
    return CleanPhoto(stored, kind, upright.width, upright.height, lon, lat)


class PhotoDecoder:
    """What decoding photos may cost this process (app.state.photo_decoder): the pixel limit,
    checked from the header before any pixel is decoded, and at most `slots` decodes at once
    (a 50 MP photo takes about 150 MB while it is decoded and re-encoded); others wait up to
    `wait_s` on the event loop, holding no thread, then get PhotosBusy. `counts` is read by
    /metrics: decoded, refused_pixels, refused_format, busy."""

    def __init__(self, max_pixels: int, slots: int, wait_s: float) -> None:
        self.max_pixels, self.slots, self.wait_s = max_pixels, max(1, slots), wait_s
        self._free = threading.BoundedSemaphore(self.slots)
        self.counts: Counter[str] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings) -> PhotoDecoder:
        return cls(settings.photo_max_pixels, settings.photo_max_decodes,
                   settings.photo_decode_wait_s)

    def check(self, data: bytes) -> None:
        """The header's verdict (format, pixels), without decoding: cheap, no slot needed."""
        if not data:
            raise InvalidInput("The upload is empty: send the photo's bytes")
        try:
            _probe(data, self.max_pixels)
        except PhotoTooLarge:
            self.counts["refused_pixels"] += 1
            raise
        except UnsupportedPhoto:
            self.counts["refused_format"] += 1
            raise

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """A decode slot, waited for without holding a thread (polled: the semaphore is a
        thread one, shared by every event loop of the process)."""
        deadline = time.monotonic() + self.wait_s
        while not self.try_take():
            if time.monotonic() >= deadline:
                self.counts["busy"] += 1
                raise PhotosBusy(f"{self.slots} photos are being processed already: try "
                                 "again in a few seconds")
            await asyncio.sleep(0.05)
        try:
            yield
        finally:
            self.give_back()

    def try_take(self) -> bool:
        """Take a slot if one is free (the caller must give it back)."""
        return self._free.acquire(blocking=False)

    def give_back(self) -> None:
        self._free.release()

    def clean(self, data: bytes) -> CleanPhoto:
        """`clean_photo` under this limit (call it holding a slot)."""
        self.counts["decoded"] += 1
        return clean_photo(data, self.max_pixels)


# Storing -----------------------------------------------------------------------------------

def photo_json(row: Any) -> dict[str, Any]:
    m = row._mapping if hasattr(row, "_mapping") else row
    return {"sha256": m["sha256"], "content_type": m["content_type"],
            "size_bytes": m["size_bytes"], "width": m["width"], "height": m["height"],
            "taken_lon": m["taken_lon"], "taken_lat": m["taken_lat"]}


def store_photo(conn: sa.Connection, files: PhotoFiles, photo: CleanPhoto, actor: str
                ) -> tuple[dict[str, Any], bool]:
    """(the stored photo's description, whether it is new). The file is written before the
    row (see photo_files); a photo stored before is kept as it was. Audited either way."""
    sha = photo.sha256
    files.write(sha, photo.data, photo.content_type)
    created = conn.execute(sa.text("""
INSERT INTO photos (sha256, content_type, size_bytes, width, height, taken_lon, taken_lat,
  created_by)
VALUES (:sha, :type, :size, :w, :h, :lon, :lat, :actor)
ON CONFLICT (sha256) DO NOTHING RETURNING sha256"""), {
        "sha": sha, "type": photo.content_type, "size": len(photo.data), "w": photo.width,
        "h": photo.height, "lon": photo.taken_lon, "lat": photo.taken_lat,
        "actor": actor}).scalar() is not None
    row = conn.execute(sa.text(
        "SELECT sha256, content_type, size_bytes, width, height, taken_lon, taken_lat "
        "FROM photos WHERE sha256 = :sha"), {"sha": sha}).one()
    out = photo_json(row)
    audit(conn, actor, "photo.upload", "photo", sha, {
        "content_type": out["content_type"], "size_bytes": out["size_bytes"],
        "width": out["width"], "height": out["height"],
        "gps": out["taken_lon"] is not None, "new": created})
    return out, created


def photo_path(conn: sa.Connection, files: PhotoFiles, sha256: str) -> tuple[Path, str]:
    """(file, content type) of a stored photo."""
    if len(sha256) != 64 or not set(sha256) <= SHA256_HEX:
        raise NotFound("No such photo: photos are named by the lowercase hex SHA-256 of "
                       "their stored bytes")
    content_type = conn.execute(sa.text("SELECT content_type FROM photos WHERE sha256 = :sha"),
                                {"sha": sha256}).scalar()
    if content_type is None:
        raise NotFound(f"No photo {sha256}")
    path = files.path(sha256, content_type)
    if not path.is_file():
        raise NotFound(f"Photo {sha256} is recorded but its file is missing from "
                       f"{files.root}: restore it from the backup of var/")
    return path, content_type
