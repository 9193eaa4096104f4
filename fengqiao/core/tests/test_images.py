import datetime
import hashlib
import io
import pickle
import struct
import zlib
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from PIL import Image, ImageCms, PngImagePlugin

from fengqiao.core.images import ImageFormat, ImageRejected, ProcessedImage, RejectReason, process_image

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# 22°30'15.5" N, 113°05'00" E: a point in Jiangmen.
GPS_NORTH_EAST = {1: "N", 2: (22.0, 30.0, 15.5), 3: "E", 4: (113.0, 5.0, 0.0)}
LAT, LON = 22 + 30 / 60 + 15.5 / 3600, 113 + 5 / 60


@pytest.fixture(autouse=True)
def english():
    """Messages are lazy and rendered when read: read them in English unless a test says otherwise."""
    with translation.override("en"):
        yield


def encode(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def gradient(size=(64, 48), mode="RGB"):
    """A picture with content, so that encoders do real work and rotations are visible."""
    image = Image.linear_gradient("L").resize(size)
    if mode == "L":
        return image
    return Image.merge("RGB", (image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), image)).convert(mode)


def exif(orientation=None, gps=None, taken="2025:10:03 14:15:16", offset=None):
    data = Image.Exif()
    if orientation:
        data[0x0112] = orientation
    if gps is not None:
        data[0x8825] = gps
    exif_ifd = {}
    if taken:
        exif_ifd[0x9003] = taken
    if offset:
        exif_ifd[0x9011] = offset
    if exif_ifd:
        data[0x8769] = exif_ifd
    return data


def png_header_only(width, height):
    """A PNG whose header claims a size and whose pixel data is a few bytes: a decompression bomb's shape."""

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def reopen(content):
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


def assert_no_metadata(content):
    image = reopen(content)
    assert not image.getexif()
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"} & set(image.info)
    assert b"Exif" not in content and b"xmpmeta" not in content and b"ICC_PROFILE" not in content


# --- JPEG: GPS, time, orientation, stripping ----------------------------------------------------------------


def test_a_jpeg_gives_its_gps_and_time_and_comes_out_without_any_metadata():
    metadata = exif(gps=GPS_NORTH_EAST)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(
        gradient(), "JPEG", exif=metadata, xmp=b"<x:xmpmeta>author</x:xmpmeta>", icc_profile=srgb, comment="Zhang San"
    )
    seconds_rational = struct.pack("<II", 31, 2)  # 15.5" as written by Pillow (little-endian TIFF)
    assert seconds_rational in data and b"Exif" in data  # the input really carries them

    result = process_image(data, filename="photo.jpg")

    assert result.gps == pytest.approx((LON, LAT), abs=1e-7)
    assert result.taken_at == datetime.datetime(2025, 10, 3, 14, 15, 16, tzinfo=SHANGHAI)
    assert (result.original_format, result.content_type, result.extension) == (ImageFormat.JPEG, "image/jpeg", "jpg")
    assert seconds_rational not in result.content and b"Zhang San" not in result.content
    assert_no_metadata(result.content)
    assert reopen(result.content).format == "JPEG"
    assert (result.width, result.height) == (64, 48)


def test_the_exif_orientation_is_applied_to_the_pixels():
    upright = gradient((60, 40))
    data = encode(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif(orientation=6))
    result = process_image(data)
    assert (result.width, result.height) == (60, 40)
    clean = reopen(result.content)
    assert clean.size == (60, 40) and not clean.getexif().get(0x0112)
    # The gradient runs dark to bright from top to bottom once the rotation is undone.
    top, bottom = clean.convert("L").getpixel((30, 2)), clean.convert("L").getpixel((30, 37))
    assert top < 40 < 200 < bottom


def test_a_rotated_photo_swaps_width_and_height():
    result = process_image(encode(gradient((80, 30)), "JPEG", exif=exif(orientation=6)))
    assert (result.width, result.height) == (30, 80)


@pytest.mark.parametrize(
    ("gps", "expected"),
    [
        ({1: "S", 2: (22.0, 30.0, 15.5), 3: "W", 4: (113.0, 5.0, 0.0)}, (-LON, -LAT)),
        ({1: b"N\x00", 2: (22.5, 0.0, 0.0), 3: b"E\x00", 4: (113.25, 0.0, 0.0)}, (113.25, 22.5)),
        ({**GPS_NORTH_EAST, 9: "V"}, None),  # the receiver said the fix is void
        ({**GPS_NORTH_EAST, 2: (95.0, 0.0, 0.0)}, None),  # latitude out of range
        ({2: (22.0, 30.0, 0.0), 4: (113.0, 5.0, 0.0)}, None),  # no hemisphere: ambiguous
        ({**GPS_NORTH_EAST, 1: "X"}, None),
        ({0: b"\x02\x03\x00\x00"}, None),  # a GPS IFD with a version only
    ],
    ids=["south-west", "bytes-refs", "void", "out-of-range", "no-refs", "bad-ref", "empty"],
)
def test_gps_signs_and_unusable_gps(gps, expected):
    result = process_image(encode(gradient(), "JPEG", exif=exif(gps=gps)))
    assert result.gps == (pytest.approx(expected, abs=1e-7) if expected else None)


@pytest.mark.parametrize(
    ("taken", "offset", "expected"),
    [
        ("2026:01:01 08:00:00", "+09:00", datetime.datetime(2025, 12, 31, 23, 0, tzinfo=datetime.UTC)),
        ("2026:01:01 08:00:00", "-05:30", datetime.datetime(2026, 1, 1, 13, 30, tzinfo=datetime.UTC)),
        ("2026:01:01 08:00:00", "garbage", datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.UTC)),
        ("0000:00:00 00:00:00", None, None),
        ("    :  :     :  :  ", None, None),
        (None, None, None),
    ],
)
def test_taken_at_uses_the_exif_offset_else_beijing_time(taken, offset, expected):
    result = process_image(encode(gradient(), "JPEG", exif=exif(taken=taken, offset=offset)))
    assert result.taken_at == expected
    assert result.taken_at is None or result.taken_at.tzinfo is not None


def test_a_cmyk_jpeg_becomes_rgb_and_a_grey_one_stays_grey():
    cmyk = process_image(encode(gradient(mode="CMYK"), "JPEG"))
    grey = process_image(encode(gradient(mode="L"), "JPEG"))
    assert reopen(cmyk.content).mode == "RGB"
    assert reopen(grey.content).mode == "L"


def test_an_mpo_from_a_phone_is_a_jpeg_of_its_first_frame():
    data = encode(gradient(), "MPO", save_all=True, append_images=[gradient((32, 24))], exif=exif(gps=GPS_NORTH_EAST))
    result = process_image(data, filename="IMG_0001.JPG")
    assert result.original_format == ImageFormat.JPEG
    assert (result.width, result.height) == (64, 48)
    assert result.gps == pytest.approx((LON, LAT), abs=1e-7)
    assert_no_metadata(result.content)


# --- PNG, WebP, HEIC ---------------------------------------------------------------------------------------------


def test_a_png_named_jpg_is_a_png_and_loses_its_text_chunks_but_not_its_transparency():
    image = gradient(mode="RGBA")
    image.putpixel((0, 0), (0, 0, 0, 0))
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Zhang San")
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPS</x:xmpmeta>")
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(image, "PNG", pnginfo=text, exif=exif(gps=GPS_NORTH_EAST), icc_profile=srgb)
    assert b"iCCP" in data

    result = process_image(data, filename="photo.jpg")

    assert (result.original_format, result.content_type, result.extension) == (ImageFormat.PNG, "image/png", "png")
    assert result.gps == pytest.approx((LON, LAT), abs=1e-7)
    assert b"Zhang San" not in result.content and b"iCCP" not in result.content
    assert_no_metadata(result.content)
    clean = reopen(result.content)
    assert clean.mode == "RGBA" and clean.getpixel((0, 0))[3] == 0
    assert result.thumbnail_content_type == "image/webp"  # the thumbnail keeps the transparency


def test_a_palette_png_with_a_transparent_colour_keeps_it():
    image = gradient().convert("P")
    data = encode(image, "PNG", transparency=0)
    clean = reopen(process_image(data).content)
    assert clean.mode == "RGBA" and clean.getchannel("A").getextrema()[0] == 0


def test_an_opaque_rgba_png_gets_a_jpeg_thumbnail():
    result = process_image(encode(gradient(mode="RGBA"), "PNG"))
    assert result.thumbnail_content_type == "image/jpeg"


def test_a_16_bit_grey_png_gets_a_thumbnail_that_is_not_blank():
    image = Image.linear_gradient("L").resize((64, 48)).convert("I").point(lambda v: v * 256).convert("I;16")
    result = process_image(encode(image, "PNG"))
    low, high = reopen(result.thumbnail).convert("L").getextrema()
    assert low < 30 and high > 220


def test_a_webp_stays_webp_without_metadata():
    data = encode(gradient(), "WEBP", exif=exif(gps=GPS_NORTH_EAST), xmp=b"<x:xmpmeta>x</x:xmpmeta>")
    result = process_image(data, filename="x.webp")
    assert (result.original_format, result.content_type, result.extension) == (ImageFormat.WEBP, "image/webp", "webp")
    assert result.gps == pytest.approx((LON, LAT), abs=1e-7)
    assert_no_metadata(result.content)
    assert reopen(result.content).format == "WEBP"


def test_a_heic_photo_becomes_a_jpeg_with_its_gps_read_and_its_rotation_applied():
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this libheif build has no HEVC encoder, so no HEIC can be made for the test")
    out = io.BytesIO()  # encoded without registering the opener: process_image must do that itself
    pillow_heif.from_pillow(gradient((64, 48))).save(
        out, quality=60, exif=exif(orientation=6, gps=GPS_NORTH_EAST).tobytes()
    )
    data = out.getvalue()
    assert data[4:12] == b"ftypheic"

    result = process_image(data, filename="IMG_0002.HEIC")

    assert (result.original_format, result.content_type, result.extension) == (ImageFormat.HEIF, "image/jpeg", "jpg")
    assert result.gps == pytest.approx((LON, LAT), abs=1e-7)
    assert result.taken_at == datetime.datetime(2025, 10, 3, 14, 15, 16, tzinfo=SHANGHAI)
    assert (result.width, result.height) == (48, 64)
    assert_no_metadata(result.content)


# --- thumbnails and determinism --------------------------------------------------------------------------------


def test_the_thumbnail_keeps_the_aspect_ratio_within_the_long_side():
    data = encode(gradient((800, 400)), "JPEG")
    default = process_image(data)
    small = process_image(data, thumbnail_size=100)
    assert reopen(default.thumbnail).size == (default.thumbnail_width, default.thumbnail_height) == (320, 160)
    assert reopen(small.thumbnail).size == (100, 50)
    assert default.thumbnail_content_type == "image/jpeg"


def test_a_small_image_is_not_enlarged_for_its_thumbnail(settings):
    settings.FENGQIAO_ATTACHMENT_THUMBNAIL_SIZE = 500
    assert reopen(process_image(encode(gradient((64, 48)), "JPEG")).thumbnail).size == (64, 48)


def test_the_same_input_gives_the_same_bytes_and_hash():
    data = encode(gradient(), "JPEG", exif=exif(gps=GPS_NORTH_EAST, orientation=3))
    first, second = process_image(data), process_image(data, filename="other-name.jpg")
    assert first == second
    assert len(first.sha256) == 64 and first.sha256 == hashlib.sha256(first.content).hexdigest()
    assert process_image(encode(gradient((65, 48)), "JPEG")).sha256 != first.sha256


def test_the_result_is_frozen_and_its_repr_leaves_the_bytes_out():
    result = process_image(encode(gradient(), "PNG"))
    assert isinstance(result, ProcessedImage)
    with pytest.raises(AttributeError):
        result.width = 1
    assert "content=" not in repr(result) and "width=64" in repr(result)


# --- refusals --------------------------------------------------------------------------------------------------

HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("data", "code", "what"),
    [
        (HTML, RejectReason.NOT_AN_IMAGE, "not an image"),
        (b"hello, this is plain text", RejectReason.NOT_AN_IMAGE, "not an image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", RejectReason.NOT_AN_IMAGE, "not an image"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", RejectReason.NOT_AN_IMAGE, "not an image"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", RejectReason.NOT_AN_IMAGE, "not an image"),  # MP4
        (SVG, RejectReason.UNSUPPORTED_FORMAT, "SVG images are not accepted"),
        (b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'/>", RejectReason.UNSUPPORTED_FORMAT, "SVG"),
        (encode(gradient(), "GIF"), RejectReason.UNSUPPORTED_FORMAT, "GIF images are not accepted"),
        (encode(gradient(), "BMP"), RejectReason.UNSUPPORTED_FORMAT, "BMP images"),
        (encode(gradient(), "TIFF"), RejectReason.UNSUPPORTED_FORMAT, "TIFF images"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", RejectReason.UNSUPPORTED_FORMAT, "AVIF images"),
    ],
    ids=["html", "text", "pdf", "zip", "mp4", "svg", "svg-bom", "gif", "bmp", "tiff", "avif"],
)
def test_files_that_are_not_accepted_images_are_refused_whatever_their_name(data, code, what):
    with pytest.raises(ImageRejected) as caught:
        process_image(data, filename="photo.jpg")
    assert caught.value.code == code == caught.value.reason
    message = caught.value.messages[0]
    assert message.startswith("photo.jpg: ") and what in message


def damaged_inputs():
    jpeg = encode(gradient((200, 150)), "JPEG")
    png = encode(gradient(), "PNG")
    idat = png.index(b"IDAT") + 8
    return {
        "truncated-jpeg": jpeg[: len(jpeg) // 2],
        "jpeg-header-only": jpeg[:20],
        "jpeg-magic-then-text": b"\xff\xd8\xff" + b"not really" * 20,
        "truncated-png": png[: len(png) // 2],
        "png-bad-pixels": png[:idat] + bytes(b ^ 0xFF for b in png[idat : idat + 30]) + png[idat + 30 :],
        "webp-header-only": encode(gradient(), "WEBP")[:16],
    }


@pytest.mark.parametrize("name", list(damaged_inputs()))
def test_a_damaged_or_truncated_image_is_refused(name):
    with pytest.raises(ImageRejected) as caught:
        process_image(damaged_inputs()[name], filename="broken.png")
    assert caught.value.code == RejectReason.DAMAGED
    assert caught.value.messages == ["broken.png: the image is damaged or incomplete and cannot be read."]


def test_a_decompression_bomb_is_refused_from_its_header_before_decoding():
    bomb = png_header_only(8000, 8000)  # 64 MP claimed in 100 bytes: decoding it would fail as damaged
    with pytest.raises(ImageRejected) as caught:
        process_image(bomb, filename="bomb.png")
    assert caught.value.code == RejectReason.TOO_MANY_PIXELS
    assert caught.value.messages == [
        "bomb.png: the image has too many pixels (8000 × 8000; the limit is 50 megapixels)."
    ]


def test_a_bomb_beyond_pillows_own_guard_is_refused_too():
    with pytest.raises(ImageRejected) as caught:
        process_image(png_header_only(30000, 30000))
    assert caught.value.code == RejectReason.TOO_MANY_PIXELS


def test_the_pixel_cap_is_configurable(settings):
    data = encode(gradient((64, 48)), "JPEG")
    with pytest.raises(ImageRejected, match="too many pixels"):
        process_image(data, max_pixels=3000)
    settings.FENGQIAO_ATTACHMENT_MAX_PIXELS = 3000
    with pytest.raises(ImageRejected, match="too many pixels"):
        process_image(data)
    assert process_image(data, max_pixels=3072).width == 64


def test_an_oversize_file_is_refused_before_it_is_looked_at(settings):
    garbage = b"\0" * 2048  # not an image either, but the size is checked first
    with pytest.raises(ImageRejected) as caught:
        process_image(garbage, filename="big.jpg", max_bytes=1024)
    assert caught.value.code == RejectReason.TOO_LARGE
    assert caught.value.messages == ["big.jpg: the file is 2.0 KB, larger than the limit of 1.0 KB."]

    settings.FENGQIAO_ATTACHMENT_MAX_BYTES = 3 * 1024 * 1024
    with pytest.raises(ImageRejected, match=r"3\.5 MB, larger than the limit of 3\.0 MB"):
        process_image(b"\0" * (3 * 1024 * 1024 + 512 * 1024), filename="big.jpg")


def test_an_empty_file_is_refused():
    with pytest.raises(ImageRejected) as caught:
        process_image(b"", filename="empty.jpg")
    assert caught.value.code == RejectReason.EMPTY
    assert caught.value.messages == ["empty.jpg: the file is empty."]


def test_the_message_names_the_file_without_its_path_or_control_characters():
    with pytest.raises(ImageRejected) as caught:
        process_image(HTML, filename="C:\\Users\\zhang\\Desktop\\照片\x1b[31m.jpg")
    assert caught.value.messages[0].startswith("照片[31m.jpg: not an image")
    with pytest.raises(ImageRejected) as caught:
        process_image(HTML)
    assert caught.value.messages[0].startswith("the uploaded file: not an image")


def test_the_rejection_is_a_validation_error_an_api_can_map_copy_and_pickle():
    with pytest.raises(ValidationError) as caught:
        process_image(HTML, filename="a.jpg")
    error = caught.value
    assert isinstance(error, ImageRejected) and error.params["name"] == "a.jpg"
    wrapped = ValidationError({"attachments": [error]})
    assert wrapped.error_dict["attachments"][0].code == "not_an_image"
    restored = pickle.loads(pickle.dumps(error))
    assert restored.code == RejectReason.NOT_AN_IMAGE and restored.params == error.params


def test_the_message_is_chinese_by_default():
    from django.utils.translation import trans_real

    from fengqiao.core import messages

    if messages.compile_all():  # a stale catalogue: rebuild it and make Django reload it (as test_i18n does)
        trans_real._translations = {}
        trans_real._default = None
    with pytest.raises(ImageRejected) as caught:
        process_image(b"", filename="照片.jpg")
    with translation.override("zh-hans"):
        assert caught.value.messages == ["照片.jpg：文件为空。"]
    with translation.override("en"):
        assert caught.value.messages == ["照片.jpg: the file is empty."]
