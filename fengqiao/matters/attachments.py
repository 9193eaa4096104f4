"""Photos of matters: checked by content, EXIF location read and stripped (`fengqiao.core.images`), then stored
encrypted with the field keys under MEDIA_ROOT/matters/ (PIPL: a photo can show faces, plates, homes).
Files are named by the SHA-256 of the clean image; the same photo twice is stored once."""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from fengqiao.core import images
from fengqiao.core.crypto import decrypt_bytes, encrypt_bytes


def check(data: bytes, name: str = ""):
    """The processed image, or ImageRejected (a ValidationError naming the file and what is wrong)."""
    return images.process_image(data, filename=name)


def _save(name: str, content: bytes) -> str:
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(encrypt_bytes(content)))
    return name


def store(matter, image, *, name="", uploaded_by=None, purpose="report", event=None):
    from fengqiao.matters.models import Attachment

    digest = image.sha256
    blob = _save(f"matters/{digest[:2]}/{digest}", image.content)
    thumb = _save(f"matters/{digest[:2]}/{digest}.thumb", image.thumbnail)
    lon, lat = image.gps if image.gps is not None else (None, None)
    return Attachment.objects.create(
        matter=matter,
        event=event,
        purpose=purpose,
        uploaded_by=uploaded_by,
        original_name=(name or "")[:200],
        content_type=image.content_type,
        size=len(image.content),
        width=image.width,
        height=image.height,
        sha256=digest,
        blob=blob,
        thumbnail_blob=thumb,
        thumbnail_type=image.thumbnail_content_type,
        gps_lon=lon,
        gps_lat=lat,
        taken_at=image.taken_at,
    )


def load(attachment, *, thumbnail=False) -> bytes:
    name = attachment.thumbnail_blob if thumbnail else attachment.blob
    with default_storage.open(name, "rb") as fh:
        return decrypt_bytes(fh.read())
