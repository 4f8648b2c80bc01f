"""Case photos through the real app and PostGIS: checked by content (a text file named .jpg is
refused), size and pixel limits, the EXIF GPS position read, every bit of metadata stripped,
stored once by hash, fetched back, and linked to a case."""

from __future__ import annotations

import hashlib
import os
from io import BytesIO

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo
from PIL.TiffImagePlugin import IFDRational

from backend.settings import Settings
from tests.conftest import bearer

SEAT = (117.88003, 33.47922)
# 33°28'45.19" N, 117°52'48" E: in the county seat
GPS = {1: "N", 2: (IFDRational(33), IFDRational(28), IFDRational(4519, 100)),
       3: "E", 4: (IFDRational(117), IFDRational(52), IFDRational(48))}


def noise(width: int = 64, height: int = 48, mode: str = "RGB") -> Image.Image:
    """A picture no other test uploads (random pixels, so a new hash every time)."""
    channels = len(mode)
    return Image.frombytes(mode, (width, height), os.urandom(width * height * channels))


def jpeg(image: Image.Image | None = None, *, gps: bool = True, orientation: int = 1) -> bytes:
    image = image or noise()
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"    # Make
    exif[0x0131] = "TestFirmware"  # Software
    exif[0x0112] = orientation
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    out = BytesIO()
    image.save(out, "JPEG", exif=exif, quality=95, comment=b"SecretComment")
    return out.getvalue()


def upload(client: TestClient, who: dict[str, str], data: bytes, name: str = "IMG_0001.jpg",
           content_type: str = "image/jpeg"):  # noqa: ANN201
    return client.post("/api/photos", files={"file": (name, data, content_type)}, headers=who)


@pytest.fixture(scope="module")
def worker(client: TestClient) -> dict[str, str]:
    return bearer(client, "grid_worker")


def test_a_jpeg_is_stored_without_metadata_and_its_position_read(
    client: TestClient, worker: dict[str, str], engine: sa.Engine, settings: Settings
) -> None:
    original = jpeg(noise(64, 48), orientation=6)  # shot with the phone on its side
    response = upload(client, worker, original)
    assert response.status_code == 201, response.text
    photo = response.json()
    assert photo["content_type"] == "image/jpeg"
    assert (photo["width"], photo["height"]) == (48, 64)  # the orientation applied to pixels
    assert photo["taken_lon"] == pytest.approx(117.88, abs=1e-6)
    assert photo["taken_lat"] == pytest.approx(33 + 28 / 60 + 45.19 / 3600, abs=1e-6)

    got = client.get(f"/api/photos/{photo['sha256']}", headers=worker)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.headers["cache-control"] == "private, max-age=86400, immutable"
    stored = got.content
    assert hashlib.sha256(stored).hexdigest() == photo["sha256"] == \
        response.json()["sha256"]
    for secret in (b"SecretCam", b"TestFirmware", b"SecretComment", b"Exif"):
        assert secret not in stored
    image = Image.open(BytesIO(stored))
    assert dict(image.getexif()) == {} and image.size == (48, 64)
    assert "exif" not in image.info and "comment" not in image.info

    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT created_by, size_bytes FROM photos WHERE sha256 = :h"),
                           {"h": photo["sha256"]}).one()
        audited = conn.execute(sa.text(
            "SELECT actor, data FROM audit_log WHERE action = 'photo.upload' "
            "AND entity_id = :h"), {"h": photo["sha256"]}).one()
    assert row.created_by == "grid_worker" and row.size_bytes == len(stored)
    assert audited.actor == "grid_worker" and audited.data["gps"] is True
    # The bytes live under var/ (here the test's photos_dir), named by their hash.
    sha = photo["sha256"]
    assert (settings.photos_dir / sha[:2] / f"{sha}.jpg").read_bytes() == stored


def test_png_and_webp_are_accepted_and_stripped(client: TestClient,
                                                worker: dict[str, str]) -> None:
    info = PngInfo()
    info.add_text("Author", "SecretAuthor")
    png = BytesIO()
    noise(40, 30, "RGBA").save(png, "PNG", pnginfo=info)
    sent = upload(client, worker, png.getvalue(), "shot.png", "image/png")
    assert sent.status_code == 201, sent.text
    assert sent.json()["content_type"] == "image/png" and sent.json()["taken_lon"] is None
    stored = client.get(f"/api/photos/{sent.json()['sha256']}", headers=worker).content
    assert b"SecretAuthor" not in stored and Image.open(BytesIO(stored)).mode == "RGBA"

    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    webp = BytesIO()
    noise(40, 30).save(webp, "WEBP", exif=exif, quality=80)
    # The declared name and type say JPEG; the content (WebP) decides.
    sent = upload(client, worker, webp.getvalue(), "photo.jpg", "image/jpeg")
    assert sent.status_code == 201, sent.text
    assert sent.json()["content_type"] == "image/webp"
    assert sent.json()["taken_lat"] == pytest.approx(33.479219, abs=1e-5)
    got = client.get(f"/api/photos/{sent.json()['sha256']}", headers=worker)
    assert got.headers["content-type"] == "image/webp" and b"SecretCam" not in got.content


def test_a_text_file_renamed_jpg_is_refused(client: TestClient, worker: dict[str, str],
                                            engine: sa.Engine) -> None:
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM photos")).scalar_one()
    text = "这不是照片 · this is not a photo\n".encode() * 20
    refused = upload(client, worker, text, "x.jpg", "image/jpeg")
    assert refused.status_code == 415
    assert "JPEG, PNG or WebP" in refused.json()["detail"]
    assert "content" in refused.json()["detail"]
    # Raw bytes (no multipart) are judged the same way.
    raw = client.post("/api/photos", content=text, headers={**worker,
                                                           "Content-Type": "image/jpeg"})
    assert raw.status_code == 415
    # A real JPEG cut short, and a GIF (a real image, not an accepted one).
    cut = jpeg(gps=False)
    assert upload(client, worker, cut[: len(cut) // 2]).status_code == 415
    gif = BytesIO()
    noise(8, 8).convert("P").save(gif, "GIF")
    assert upload(client, worker, gif.getvalue(), "a.jpg").status_code == 415
    empty = upload(client, worker, b"")
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM photos")).scalar_one() == before


def test_too_many_bytes_or_pixels_are_refused(client: TestClient, worker: dict[str, str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    settings = client.app.state.resources.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "photo_max_bytes", 20_000)
    big = jpeg(noise(200, 150), gps=False)
    assert len(big) > 20_000
    refused = upload(client, worker, big)
    assert refused.status_code == 413 and "MB" in refused.json()["detail"]
    raw = client.post("/api/photos", content=big, headers=worker)
    assert raw.status_code == 413

    def chunks():  # noqa: ANN202 - no Content-Length: refused while streaming
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]

    assert client.post("/api/photos", content=chunks(), headers=worker).status_code == 413
    decoder = client.app.state.photo_decoder  # type: ignore[attr-defined]
    monkeypatch.setattr(decoder, "max_pixels", 1000)
    bomb = upload(client, worker, jpeg(noise(64, 48), gps=False))
    assert bomb.status_code == 413 and "at most 1,000 pixels" in bomb.json()["detail"]


def test_the_same_photo_twice_is_stored_once(client: TestClient,
                                             worker: dict[str, str]) -> None:
    data = jpeg(gps=False)
    first = upload(client, worker, data)
    again = upload(client, worker, data, "renamed.jpeg")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() and first.json()["taken_lon"] is None


def test_a_case_reported_with_the_photo_lists_it(client: TestClient,
                                                 worker: dict[str, str]) -> None:
    photo = upload(client, worker, jpeg()).json()
    case = client.post("/api/incidents", headers=worker, json={
        "category_code": "E0101", "description": "照片测试 photo test", "lon": SEAT[0],
        "lat": SEAT[1], "photos": [photo["sha256"]]})
    assert case.status_code == 201, case.text
    detail = client.get(f"/api/incidents/{case.json()['id']}", headers=worker).json()
    assert detail["photos"] == [photo["sha256"]]
    assert detail["timeline"][0]["photos"] == [photo["sha256"]]
    unknown = client.post("/api/incidents", headers=worker, json={
        "category_code": "E0101", "description": "no such photo", "lon": SEAT[0],
        "lat": SEAT[1], "photos": ["0" * 64]})
    assert unknown.status_code == 400 and "/api/photos" in unknown.json()["detail"]


def test_who_may_upload_and_fetch(client: TestClient, anonymous: TestClient,
                                  worker: dict[str, str]) -> None:
    data = jpeg(gps=False)
    assert anonymous.post("/api/photos", files={"file": ("a.jpg", data, "image/jpeg")}
                          ).status_code == 401
    viewer = bearer(client, "viewer")
    assert upload(client, viewer, data).status_code == 403  # may read cases, not act on them
    handler = bearer(client, "department_handler")
    sha = upload(client, handler, data).json()["sha256"]  # handlers send after photos
    assert anonymous.get(f"/api/photos/{sha}").status_code == 401
    assert client.get(f"/api/photos/{sha}", headers=viewer).status_code == 200
    assert client.get(f"/api/photos/{'a' * 64}", headers=viewer).status_code == 404
    assert client.get("/api/photos/not-a-hash", headers=viewer).status_code == 404
    cached = client.get(f"/api/photos/{sha}", headers={**viewer, "If-None-Match": f'"{sha}"'})
    assert cached.status_code == 304


def test_a_9000_by_9000_png_is_refused_from_its_header_before_decoding(
        client: TestClient, worker: dict[str, str], engine: sa.Engine) -> None:
    """Issue 8, defect 13: a 77 KB PNG of 9000 x 9000 pixels cost +154 MB per upload. It is
    refused from its header (the decoder never runs) with the limit in the message."""
    bomb = BytesIO()
    Image.new("L", (9000, 9000)).save(bomb, "PNG", compress_level=9)
    assert len(bomb.getvalue()) < 100_000
    decoder = client.app.state.photo_decoder  # type: ignore[attr-defined]
    before = dict(decoder.counts)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM photos")).scalar_one()
    refused = upload(client, worker, bomb.getvalue(), "bomb.png", "image/png")
    assert refused.status_code == 413
    detail = refused.json()["detail"]
    assert "9000 x 9000 pixels" in detail and "at most 50,000,000 pixels" in detail
    assert decoder.counts["decoded"] == before.get("decoded", 0)  # never decoded
    assert decoder.counts["refused_pixels"] == before.get("refused_pixels", 0) + 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM photos")).scalar_one() == stored
    photo = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")  # a 12 MP photo
    photo.paste(noise(), (0, 0))  # a new hash every run
    accepted = upload(client, worker, jpeg(photo, gps=False))
    assert accepted.status_code == 201, accepted.text
    assert decoder.counts["decoded"] == before.get("decoded", 0) + 1


def test_decodes_beyond_the_slots_wait_then_get_503(
        client: TestClient, worker: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    decoder = client.app.state.photo_decoder  # type: ignore[attr-defined]
    monkeypatch.setattr(decoder, "wait_s", 0.3)
    taken = 0
    while decoder.try_take():  # every slot busy, as if that many photos were being decoded
        taken += 1
    assert taken == decoder.slots == 2
    busy_before = decoder.counts["busy"]
    try:
        busy = upload(client, worker, jpeg(gps=False))
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
        assert "2 photos are being processed" in busy.json()["detail"]
        assert decoder.counts["busy"] == busy_before + 1
    finally:
        for _ in range(taken):
            decoder.give_back()
    assert upload(client, worker, jpeg(gps=False)).status_code == 201
