"""Photos attached to matters: check them by content, read where and when they were taken, strip every piece of
metadata, and make a thumbnail. Pure functions on bytes; no models, no storage.

Only JPEG, PNG, WebP and HEIC/HEIF are accepted, recognised by their magic bytes and then decoded by Pillow with
that one format allowed: a file's name and claimed content type are never trusted. The clean image is re-encoded
from its pixels (after applying the EXIF orientation), so no EXIF, GPS, XMP, ICC profile or text chunk survives.
HEIC becomes JPEG because browsers cannot show it.

Limits (read at call time): ``FENGQIAO_ATTACHMENT_MAX_BYTES`` (10 MiB), ``FENGQIAO_ATTACHMENT_MAX_PIXELS``
(50 megapixels) and ``FENGQIAO_ATTACHMENT_THUMBNAIL_SIZE`` (320 px, the thumbnail's long side). Pillow's own
decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``) still applies on top, so a pixel cap above twice that value
has no effect.
"""

import datetime
import functools
import hashlib
import io
import math
import re
import zoneinfo
from dataclasses import dataclass, field
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_THUMBNAIL_SIZE = 320
JPEG_QUALITY = 88
WEBP_QUALITY = 88
THUMBNAIL_QUALITY = 80
# EXIF times carry no zone unless OffsetTimeOriginal is present; cameras in China are set to Beijing time.
EXIF_DEFAULT_ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")

ACCEPTED_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")

_TAG_EXIF_IFD = 0x8769
_TAG_GPS_IFD = 0x8825
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_OFFSET_TIME_ORIGINAL = 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON, _GPS_STATUS = 1, 2, 3, 4, 9

_HEVC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_AVIF_BRANDS = {b"avif", b"avis"}


class ImageFormat(StrEnum):
    """An accepted input format (``ProcessedImage.original_format``)."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    HEIF = "heif"


class RejectReason(StrEnum):
    """``ImageRejected.code``: stable values an API can map to its own error codes."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_MANY_PIXELS = "too_many_pixels"
    DAMAGED = "damaged"


class ImageRejected(ValidationError):
    """An upload that is not an acceptable photo. ``code`` is a RejectReason; ``params`` hold the file name and
    the figures the message quotes; the message is translated when rendered."""

    def __init__(self, message, code: RejectReason, params: dict):  # positional too, so copies and pickles work
        super().__init__(message, code=code, params=params)
        self.reason = RejectReason(code)


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """A clean image ready to store. ``extension`` is lower case without a dot; ``sha256`` is the hex digest of
    ``content``; ``gps`` is (lon, lat) in WGS84 degrees; ``taken_at`` is an aware datetime."""

    content: bytes = field(repr=False)
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str
    thumbnail: bytes = field(repr=False)
    thumbnail_content_type: str
    thumbnail_width: int
    thumbnail_height: int
    gps: tuple[float, float] | None
    taken_at: datetime.datetime | None
    original_format: ImageFormat


# --- the entry points ----------------------------------------------------------------------------------------


def process_image(
    data: bytes,
    *,
    filename: str = "",
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    thumbnail_size: int | None = None,
) -> ProcessedImage:
    """Check an uploaded photo by its content and return it stripped of metadata, with its thumbnail.

    Raises ImageRejected (a ValidationError) naming the file and the reason; nothing is decoded before the byte
    size and the pixel count have been checked.
    """
    max_pixels = _setting("FENGQIAO_ATTACHMENT_MAX_PIXELS", DEFAULT_MAX_PIXELS) if max_pixels is None else max_pixels
    if thumbnail_size is None:
        thumbnail_size = _setting("FENGQIAO_ATTACHMENT_THUMBNAIL_SIZE", DEFAULT_THUMBNAIL_SIZE)
    if max_pixels < 1 or thumbnail_size < 1:
        raise ValueError("max_pixels and thumbnail_size must be positive")
    name = _display_name(filename)
    check_size(len(data), filename=filename, max_bytes=max_bytes)
    data = bytes(data)  # bytearray and memoryview too

    fmt = _sniff(data, name)
    image = _open(data, fmt, name, max_pixels)
    exif = _read_exif(image)
    gps, taken_at = _gps(exif), _taken_at(exif)

    pixels = ImageOps.exif_transpose(image)
    content, content_type, extension, pixels = _encode_clean(pixels, fmt)
    thumbnail, thumbnail_type, thumb_size = _encode_thumbnail(pixels, thumbnail_size)
    return ProcessedImage(
        content=content,
        content_type=content_type,
        extension=extension,
        width=pixels.width,
        height=pixels.height,
        sha256=hashlib.sha256(content).hexdigest(),
        thumbnail=thumbnail,
        thumbnail_content_type=thumbnail_type,
        thumbnail_width=thumb_size[0],
        thumbnail_height=thumb_size[1],
        gps=gps,
        taken_at=taken_at,
        original_format=fmt,
    )


def check_size(size: int, *, filename: str = "", max_bytes: int | None = None) -> None:
    """Refuse an empty or oversize upload from its declared size, before reading it into memory."""
    name = _display_name(filename)
    if max_bytes is None:
        max_bytes = _setting("FENGQIAO_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES)
    if size <= 0:
        raise ImageRejected(_("%(name)s: the file is empty."), code=RejectReason.EMPTY, params={"name": name})
    if size > max_bytes:
        raise ImageRejected(
            _("%(name)s: the file is %(size)s, larger than the limit of %(limit)s."),
            code=RejectReason.TOO_LARGE,
            params={"name": name, "size": _human_size(size), "limit": _human_size(max_bytes)},
        )


# --- recognising and decoding ----------------------------------------------------------------------------------


def _sniff(data, name):
    """The accepted format the magic bytes announce, or ImageRejected saying what the file is instead."""
    if data.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageFormat.PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ImageFormat.WEBP
    brands = _ftyp_brands(data)
    if brands & _HEVC_BRANDS:
        return ImageFormat.HEIF
    other = "AVIF" if brands & _AVIF_BRANDS else _other_image_format(data)
    if other:
        raise ImageRejected(
            _("%(name)s: %(format)s images are not accepted; upload a JPEG, PNG, WebP or HEIC photo."),
            code=RejectReason.UNSUPPORTED_FORMAT,
            params={"name": name, "format": other},
        )
    raise ImageRejected(
        _("%(name)s: not an image; upload a JPEG, PNG, WebP or HEIC photo."),
        code=RejectReason.NOT_AN_IMAGE,
        params={"name": name},
    )


def _ftyp_brands(data):
    """The major and compatible brands of an ISO base media file (HEIF, AVIF, MP4), or an empty set."""
    if data[4:8] != b"ftyp" or len(data) < 16:
        return set()
    box_size = min(int.from_bytes(data[:4], "big"), 256, len(data))
    return {data[8:12]} | {data[i : i + 4] for i in range(16, box_size - 3, 4)}


def _other_image_format(data):
    """The name of a well-known image format we refuse, so the message can say so; None for anything else."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:4] == b"\x00\x00\x01\x00":
        return "ICO"
    if data[:4] == b"8BPS":
        return "PSD"
    if data.startswith(b"\x00\x00\x00\x0cjP  ") or data[:4] == b"\xff\x4f\xff\x51":
        return "JPEG 2000"
    if data[:2] == b"\xff\x0a" or data.startswith(b"\x00\x00\x00\x0cJXL "):
        return "JPEG XL"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if (head.startswith(b"<?xml") or head.startswith(b"<svg") or head.startswith(b"<!doctype svg")) and (
        b"<svg" in head
    ):
        return "SVG"
    return None


@functools.cache
def _register_heif():
    """Teach Pillow HEIF on first use only (pillow-heif is a heavy import); primary image only."""
    from pillow_heif import register_heif_opener

    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


_PILLOW_FORMATS = {
    ImageFormat.JPEG: ("JPEG", {"JPEG", "MPO"}),  # phones write MPO (JPEG with extra frames); frame 0 is the photo
    ImageFormat.PNG: ("PNG", {"PNG"}),
    ImageFormat.WEBP: ("WEBP", {"WEBP"}),
    ImageFormat.HEIF: ("HEIF", {"HEIF"}),
}


def _open(data, fmt, name, max_pixels):
    """Decode with only the sniffed format allowed, after checking the pixel count from the header."""
    if fmt == ImageFormat.HEIF:
        _register_heif()
    pillow_format, expected = _PILLOW_FORMATS[fmt]
    too_many = {"code": RejectReason.TOO_MANY_PIXELS}
    try:
        image = Image.open(io.BytesIO(data), formats=[pillow_format])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard fired first (beyond Image.MAX_IMAGE_PIXELS): the header size is not at hand.
        raise ImageRejected(
            _("%(name)s: the image has too many pixels (the limit is %(limit)s megapixels)."),
            params={"name": name, "limit": _megapixels(max_pixels)},
            **too_many,
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _damaged(name) from None
    if image.format not in expected:
        raise _damaged(name)
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(
            _("%(name)s: the image has too many pixels (%(width)s × %(height)s; the limit is %(limit)s megapixels)."),
            params={"name": name, "width": width, "height": height, "limit": _megapixels(max_pixels)},
            **too_many,
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError):
        raise _damaged(name) from None
    return image


def _damaged(name):
    return ImageRejected(
        _("%(name)s: the image is damaged or incomplete and cannot be read."),
        code=RejectReason.DAMAGED,
        params={"name": name},
    )


# --- metadata ------------------------------------------------------------------------------------------------


def _read_exif(image):
    """The image's EXIF, or an empty one: broken metadata loses the metadata, not the photo."""
    try:
        return image.getexif()
    except Exception:  # Pillow raises many kinds of errors on malformed EXIF
        return Image.Exif()


def _gps(exif):
    """(lon, lat) in decimal degrees from the GPS IFD, or None when absent, void or out of range."""
    try:
        ifd = exif.get_ifd(_TAG_GPS_IFD)
    except Exception:  # malformed GPS IFD
        return None
    if not ifd or _ascii(ifd.get(_GPS_STATUS)) == "V":
        return None
    lat_ref, lon_ref = _ascii(ifd.get(_GPS_LAT_REF)), _ascii(ifd.get(_GPS_LON_REF))
    lat, lon = _degrees(ifd.get(_GPS_LAT)), _degrees(ifd.get(_GPS_LON))
    if lat is None or lon is None or lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        return None
    lat = -lat if lat_ref == "S" else lat
    lon = -lon if lon_ref == "W" else lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return round(lon, 7), round(lat, 7)


def _degrees(value):
    """Degrees, minutes, seconds (EXIF rationals) to decimal degrees; None when unusable."""
    try:
        parts = [float(v) for v in (value if isinstance(value, tuple | list) else (value,))]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not 1 <= len(parts) <= 3 or not all(math.isfinite(p) and p >= 0 for p in parts):
        return None
    return sum(p / 60**i for i, p in enumerate(parts))


def _taken_at(exif):
    """DateTimeOriginal as an aware datetime: OffsetTimeOriginal when given, else Beijing time."""
    try:
        ifd = exif.get_ifd(_TAG_EXIF_IFD)
        stamp = datetime.datetime.strptime(_ascii(ifd.get(_TAG_DATETIME_ORIGINAL)), "%Y:%m:%d %H:%M:%S")
    except Exception:  # missing, blank ("    :  :  "), or not a date
        return None
    offset = re.fullmatch(r"([+-])(\d{2}):(\d{2})", _ascii(ifd.get(_TAG_OFFSET_TIME_ORIGINAL)))
    zone = EXIF_DEFAULT_ZONE
    if offset:
        delta = datetime.timedelta(hours=int(offset[2]), minutes=int(offset[3]))
        if delta <= datetime.timedelta(hours=14):
            zone = datetime.timezone(-delta if offset[1] == "-" else delta)
    return stamp.replace(tzinfo=zone)


def _ascii(value):
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 ").upper() if isinstance(value, str) else ""


# --- encoding ------------------------------------------------------------------------------------------------

_OUTPUT = {  # input format -> (Pillow format, content type, extension)
    ImageFormat.JPEG: ("JPEG", "image/jpeg", "jpg"),
    ImageFormat.HEIF: ("JPEG", "image/jpeg", "jpg"),
    ImageFormat.PNG: ("PNG", "image/png", "png"),
    ImageFormat.WEBP: ("WEBP", "image/webp", "webp"),
}


def _encode_clean(image, fmt):
    """Re-encode the pixels alone. Returns (bytes, content type, extension, the image that was encoded)."""
    pillow_format, content_type, extension = _OUTPUT[fmt]
    if pillow_format == "JPEG":
        image = _flatten(image) if _has_alpha(image) else _to_8bit(image, "RGB" if image.mode != "L" else "L")
        options = {"quality": JPEG_QUALITY, "optimize": True}
    elif pillow_format == "WEBP":
        image = _to_8bit(image, "RGBA" if _has_alpha(image) else "RGB")
        options = {"quality": WEBP_QUALITY}
    else:
        if "transparency" in image.info:  # a colour key lives in info, which is about to be emptied
            image = image.convert("RGBA")
        options = {}
    # exif_transpose made this image ours. Pillow falls back on info for some metadata when saving (a PNG's ICC
    # profile, a JPEG's comment): nothing may come along.
    image.info = {}
    out = io.BytesIO()
    image.save(out, pillow_format, **options)
    return out.getvalue(), content_type, extension, image


def _encode_thumbnail(image, size):
    """JPEG, or WebP when the image has real transparency. Returns (bytes, content type, (width, height))."""
    thumb = image.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    if _has_alpha(thumb):
        _to_8bit(thumb, "RGBA").save(out, "WEBP", quality=THUMBNAIL_QUALITY)
        content_type = "image/webp"
    else:
        _to_8bit(thumb, "RGB").save(out, "JPEG", quality=THUMBNAIL_QUALITY)
        content_type = "image/jpeg"
    return out.getvalue(), content_type, thumb.size


def _has_alpha(image):
    """True when some pixel is not fully opaque (an opaque alpha channel does not count)."""
    if image.mode == "P":
        return "transparency" in image.info
    if image.mode not in ("RGBA", "LA", "PA", "RGBa", "La"):
        return False
    return image.getchannel("A").getextrema()[0] < 255


def _flatten(image):
    """Composite onto white for formats without transparency."""
    rgba = _to_8bit(image, "RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _to_8bit(image, mode):
    if image.mode.startswith("I"):  # 16/32-bit grey: scale instead of clipping everything above 255 to white
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return image if image.mode == mode else image.convert(mode)


# --- small helpers -------------------------------------------------------------------------------------------


def _setting(name, default):
    from django.conf import settings

    return getattr(settings, name, default)


def _display_name(filename):
    """The last path component of a client-given name, without control characters, at most 60 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    if len(name) > 60:
        name = name[:57] + "…"
    return name or _("the uploaded file")


def _human_size(size):
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} B"


def _megapixels(pixels):
    return f"{pixels / 1_000_000:g}"
