"""Case bundles: export, import, and every way a bundle is refused (docs/BUNDLES.md)."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile

import numpy as np
import pytest
from PIL import Image

from cases import bundles
from cases.bundles import BundleError, build_bundle, import_bundle, parse_bundle
from cases.models import Case, CaseVersion, VersionStatus
from cases.services import CONTENT_FIELDS, STUDY_FIELDS, CaseContent, StudyInput, case_create
from inference.conditions import MASK_SIZE, Finding, mask_to_png_b64


# ------------------------------------------------------------------------------------------- helpers


def _holed_mask() -> np.ndarray:
    """A filled square with a hole in it, plus one isolated pixel and a pixel in the very corner."""
    mask = np.zeros((MASK_SIZE, MASK_SIZE), dtype=bool)
    mask[60:140, 50:130] = True
    mask[90:100, 80:90] = False  # the hole
    mask[200, 200] = True  # an isolated pixel
    mask[0, MASK_SIZE - 1] = True
    return mask


def _png(array, mode="L", fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array), mode=mode).save(buffer, format=fmt)
    return buffer.getvalue()


def _mask_png(mask=None) -> bytes:
    mask = _holed_mask() if mask is None else mask
    return _png(np.where(mask, 255, 0).astype("uint8"))


RICH_CONTENT = CaseContent(
    title="Fever, cough and a pleural collection",
    patient_age=58,
    patient_sex="M",
    presenting_complaint="Three days of productive cough and fever, now right chest pain.",
    history={"onset": "Three days ago", "smoking": "20 pack-years", "medications": "None"},
    vitals={"heart_rate": 104, "temperature": 38.6, "spo2": 93, "bp_systolic": 118},
    exam="Stony dull right base; bronchial breathing above it.",
    diagnosis_id="disease:parapneumonic_effusion",
    diagnosis="Right parapneumonic effusion",
    diagnosis_synonyms="parapneumonic effusion, PPE",
    differentials=["disease:empyema", "disease:lobar_pneumonia"],
    teaching_point="A meniscus means fluid; loculation suggests empyema.",
    kg_version="1.0.0",
)


def _rich_studies() -> list[StudyInput]:
    mask_b64 = mask_to_png_b64(_holed_mask())
    small = np.zeros((MASK_SIZE, MASK_SIZE), dtype=bool)
    small[84, 176] = True  # a single pixel mask, in the left upper zone (a nodule must lie in the lung)
    return [
        StudyInput(title="Chest X-ray PA", modality="cxr", view="PA",
                   prompt="right effusion and RLL consolidation",
                   findings=[
                       {"key": "effusion", "laterality": "right", "severity": "moderate",
                        "mask_png_b64": mask_b64},
                       {"key": "consolidation", "laterality": "right", "location": "RLL", "severity": "mild"},
                       {"key": "nodule", "laterality": "left", "location": "LUL", "size_mm": 12.5,
                        "severity": "mild", "mask_png_b64": mask_to_png_b64(small)},
                   ], seed_policy="per_student", seed=42),
        StudyInput(title="CT chest", modality="ct", view="axial", prompt="loculated right collection",
                   findings=[{"key": "effusion", "laterality": "right", "severity": "severe"}],
                   seed_policy="fixed", seed=7, slice_count=48),
    ]


@pytest.fixture
def rich(world):
    return case_create(author=world.elena, content=RICH_CONTENT, studies=_rich_studies())


def _document(**changes) -> dict:
    """A valid case.json for one CXR study whose finding has mask masks/1-1.png."""
    doc = {
        "format": "radsim-case-bundle", "schema_version": 1, "exported_at": "2026-11-25T12:00:00+00:00",
        "kg_version": "1.0.0",
        "case": {name: getattr(RICH_CONTENT, name) for name in CONTENT_FIELDS},
        "studies": [{
            "title": "Chest X-ray PA", "modality": "cxr", "view": "PA", "prompt": "", "seed_policy": "fixed",
            "seed": 1, "slice_count": None, "frame_count": None,
            "findings": [{"key": "effusion", "laterality": "right", "severity": "moderate",
                          "mask": "masks/1-1.png"}],
        }],
    }
    doc.update(changes)
    return doc


def _zip(members: list[tuple[str, bytes | str]], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buffer.getvalue()


def _bundle(doc=None, masks=None, extra=()) -> bytes:
    doc = _document() if doc is None else doc
    masks = {"masks/1-1.png": _mask_png()} if masks is None else masks
    body = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
    return _zip([("case.json", body), *masks.items(), *extra])


def _study(doc, **changes) -> dict:
    doc["studies"][0].update(changes)
    return doc


def _lie(data: bytes, name: str, file_size: int) -> bytes:
    """Rewrite the uncompressed size a member declares (local header and central directory)."""
    data = bytearray(data)
    encoded = name.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            if data[start + name_at:start + name_at + len(encoded)] == encoded:
                struct.pack_into("<I", data, start + size_at, file_size)
            start += 4
    return bytes(data)


def _rejected(world, data: bytes) -> list[str]:
    """Import must raise listing problems and write nothing."""
    before = (Case.objects.count(), CaseVersion.objects.count())
    with pytest.raises(BundleError) as info:
        import_bundle(author=world.emil, data=data)
    assert (Case.objects.count(), CaseVersion.objects.count()) == before
    return info.value.problems


# ------------------------------------------------------------------------------------------ round trip


def _snapshot(version: CaseVersion) -> dict:
    return {
        "content": {name: getattr(version, name) for name in CONTENT_FIELDS},
        "studies": [{name: getattr(s, name) for name in STUDY_FIELDS}
                    for s in version.studies.order_by("id")],
    }


@pytest.mark.django_db
def test_round_trip_is_identical_and_masks_keep_holes_and_single_pixels(world, client, rich):
    client.force_login(world.elena)
    response = client.get(f"/cases/{rich.case_id}/export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == (
        'attachment; filename="fever-cough-and-a-pleural-collection.radsim.zip"')
    data = response.content
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["case.json", "masks/1-1.png", "masks/1-3.png"]
        doc = json.loads(archive.read("case.json"))
        png = Image.open(io.BytesIO(archive.read("masks/1-1.png")))
        assert (png.format, png.mode, png.size) == ("PNG", "L", (MASK_SIZE, MASK_SIZE))
        assert set(np.unique(np.asarray(png)).tolist()) == {0, 255}
    assert doc["format"] == "radsim-case-bundle" and doc["schema_version"] == 1
    assert set(doc["case"]) == set(CONTENT_FIELDS) and set(doc["studies"][0]) == set(STUDY_FIELDS)
    assert doc["studies"][0]["findings"][0]["mask"] == "masks/1-1.png"
    assert "mask" not in doc["studies"][0]["findings"][1]
    assert "mask_png_b64" not in json.dumps(doc)

    client.force_login(world.olga)  # another organisation imports it
    response = client.post("/cases/import/", {"bundle": io.BytesIO(data)}, format="multipart")
    imported = CaseVersion.objects.exclude(case__in=[world.case, rich.case]).get()
    assert response.status_code == 302 and response.url == f"/cases/{imported.case_id}/edit/"
    assert imported.case_id != rich.case_id
    assert imported.number == 1 and imported.status == VersionStatus.DRAFT
    assert imported.author == world.olga and imported.case.created_by == world.olga
    assert imported.case.organisation == world.south and imported.case.cohorts.count() == 0
    assert _snapshot(imported) == _snapshot(rich)
    original = rich.studies.order_by("id").first().findings
    copied = imported.studies.order_by("id").first().findings
    for before, after in ((original[0], copied[0]), (original[2], copied[2])):
        assert after["mask_png_b64"] == before["mask_png_b64"]
        assert np.array_equal(Finding(**after).mask_array(), Finding(**before).mask_array())
    assert Finding(**copied[0]).mask_array()[95, 85] == False  # noqa: E712  the hole survived
    assert Finding(**copied[0]).mask_array()[200, 200] == True  # noqa: E712  the isolated pixel survived
    assert Finding(**copied[2]).mask_array().sum() == 1


@pytest.mark.django_db
def test_export_takes_the_draft_when_there_is_one(world):
    from cases.services import case_draft_start

    draft = case_draft_start(case=world.case, author=world.elena)
    draft.title = "The draft"
    draft.save()
    assert bundles.bundle_version(world.case) == draft
    doc = json.loads(zipfile.ZipFile(io.BytesIO(build_bundle(draft, kg_version="1", exported_at="t")))
                     .read("case.json"))
    assert doc["case"]["title"] == "The draft"


@pytest.mark.django_db
def test_a_valid_hand_made_bundle_imports(world):
    version = import_bundle(author=world.emil, data=_bundle())
    finding = version.studies.get().findings[0]
    assert np.array_equal(Finding(**finding).mask_array(), _holed_mask())
    # a 1-bit PNG is binary grayscale too
    image = Image.open(io.BytesIO(_mask_png())).convert("1")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    version = import_bundle(author=world.emil, data=_bundle(masks={"masks/1-1.png": buffer.getvalue()}))
    assert np.array_equal(Finding(**version.studies.get().findings[0]).mask_array(), _holed_mask())


# ------------------------------------------------------------------------------------- bad bundles


def _json_doc(**changes):
    return _bundle(_document(**changes))


def _without(field):
    doc = _document()
    del doc["case"][field]
    return _bundle(doc)


def _case(**changes):
    doc = _document()
    doc["case"].update(changes)
    return _bundle(doc)


def _finding(**changes):
    doc = _document()
    doc["studies"][0]["findings"][0].update(changes)
    return _bundle(doc)


def _no_mask_finding(study_changes=None, **changes):
    doc = _document()
    finding = doc["studies"][0]["findings"][0]
    del finding["mask"]
    finding.update(changes)
    doc["studies"][0].update(study_changes or {})
    return _bundle(doc, masks={})


def _bomb_ratio():
    return _bundle(extra=[("masks/zeros.png", b"\0" * (5 * 1024 * 1024))])


def _bomb_total():
    rng = np.random.default_rng(0)
    chunks = [(f"masks/big{i}.png", rng.bytes(300 * 1024)) for i in range(3)]
    data = _bundle(extra=chunks)
    for name, _ in chunks:
        data = _lie(data, name, 20 * 1024 * 1024)  # ratio under 100, total 60 MiB
    return data


def _lying_header():
    data = _bundle(doc=json.dumps(_document()) + " " * (1024 * 1024))
    return _lie(data, "case.json", 100)


def _corrupt():
    data = bytearray(_bundle())
    start = data.find(b"PK\x01\x02")  # break the central directory
    data[start:start + 4] = b"XXXX"
    return bytes(data)


def _corrupt_member():
    data = bytearray(_bundle(doc=json.dumps(_document()) + " " * 4000))
    data[60:80] = b"\xff" * 20  # inside case.json's compressed bytes
    return bytes(data)


def _rgb_mask():
    rgb = np.zeros((MASK_SIZE, MASK_SIZE, 3), dtype="uint8")
    return _bundle(masks={"masks/1-1.png": _png(rgb, mode="RGB")})


def _grey_mask():
    array = np.where(_holed_mask(), 255, 0).astype("uint8")
    array[5, 5] = 128  # anti-aliased edge
    return _bundle(masks={"masks/1-1.png": _png(array)})


BAD = {
    "not a zip": (lambda: b"just some text, not a zip", "not a zip file"),
    "empty upload": (lambda: b"", "empty"),
    "corrupt zip": (_corrupt, "corrupt"),
    "corrupt member": (_corrupt_member, "case.json is corrupt"),
    "missing case.json": (lambda: _zip([("masks/1-1.png", _mask_png())]), "no case.json"),
    "case.json not JSON": (lambda: _bundle(doc="{not json"), "case.json is not valid JSON"),
    "case.json nested too deep": (lambda: _zip([("case.json", "[" * 50000)], compression=zipfile.ZIP_STORED),
                                  "case.json is not valid JSON"),
    "case.json not an object": (lambda: _bundle(doc="[1, 2]"), "must be a JSON object"),
    "wrong format": (lambda: _json_doc(format="something-else"), "format is 'something-else'"),
    "missing format": (lambda: _bundle({k: v for k, v in _document().items() if k != "format"}),
                       "format is missing"),
    "future schema": (lambda: _json_doc(schema_version=2),
                      "schema_version 2 is not supported; this server reads schema_version 1"),
    "missing schema": (lambda: _bundle({k: v for k, v in _document().items() if k != "schema_version"}),
                       "schema_version missing is not supported"),
    "unknown top field": (lambda: _json_doc(author="someone"), "case.json.author: unknown field"),
    "unknown case field": (lambda: _case(secret="x"), "case.json: case.secret: unknown field"),
    "missing case field": (lambda: _without("diagnosis"), "case.json: case.diagnosis: missing field"),
    "wrong type": (lambda: _case(patient_age="58"), "case.patient_age: must be a whole number, not \"58\""),
    "bad vitals": (lambda: _case(vitals={"spo2": 140}),
                   "case.vitals.spo2: SpO₂ must be a number from 50 to 100 % (got 140)"),
    "wrong study type": (lambda: _bundle(_study(_document(), seed=None)),
                         "studies[0].seed: must be a whole number"),
    "missing study field": (lambda: _bundle(_document(studies=[
                                {k: v for k, v in _document()["studies"][0].items() if k != "view"}])),
                            "studies[0].view: missing field"),
    "unknown finding": (lambda: _finding(key="unicorn"), "findings[0]: unknown finding 'unicorn'"),
    "unknown finding field": (lambda: _finding(colour="red"), "findings[0].colour: unknown field"),
    "impossible laterality": (lambda: _finding(laterality="none"),
                              "laterality 'none' is impossible for 'effusion'"),
    "not visible in modality": (lambda: _no_mask_finding(key="pulmonary_embolism", laterality="left"),
                                "finding 'pulmonary_embolism' is not visible in modality 'cxr'"),
    "bad view": (lambda: _no_mask_finding({"view": "axial"}),
                 "view 'axial' does not exist for modality 'cxr'"),
    "ct without slices": (lambda: _no_mask_finding({"modality": "ct", "view": "axial"}),
                          "a CT study needs a slice_count"),
    "unknown KG diagnosis": (lambda: _case(diagnosis_id="disease:dragon_pox"),
                             "'disease:dragon_pox' is not a disease of the knowledge graph"),
    "unknown KG differential": (lambda: _case(differentials=["disease:empyema", "disease:wyvern_flu"]),
                                "Not diseases of the knowledge graph: disease:wyvern_flu"),
    "no studies": (lambda: _json_doc(studies=[]), "at least one imaging study"),
    "mask missing": (lambda: _bundle(masks={}), "masks/1-1.png is referenced but missing"),
    "mask path outside masks/": (lambda: _finding(mask="case.json"),
                                 "'case.json' is not a masks/<name>.png path"),
    "mask not PNG": (lambda: _bundle(masks={"masks/1-1.png": _png(np.zeros((256, 256), "uint8"),
                                                                   fmt="JPEG")}),
                     "masks/1-1.png is JPEG, not a PNG"),
    "mask garbage": (lambda: _bundle(masks={"masks/1-1.png": b"\x89PNG\r\n\x1a\nnot really"}),
                     "masks/1-1.png is not a readable PNG"),
    "mask wrong size": (lambda: _bundle(masks={"masks/1-1.png": _png(np.zeros((128, 256), "uint8"))}),
                        "masks/1-1.png is 256x128; masks must be 256x256"),
    "mask not binary": (_grey_mask, "masks/1-1.png is not binary: it has pixel values 128"),
    "mask in colour": (_rgb_mask, "masks/1-1.png is a RGB image; masks must be grayscale"),
    "unreferenced mask": (lambda: _bundle(extra=[("masks/9-9.png", _mask_png())]),
                          "'masks/9-9.png' is not referenced by case.json"),
    "foreign member": (lambda: _bundle(extra=[("run.sh", b"rm -rf /")]),
                       "'run.sh' is not part of the format"),
    "oversized archive": (lambda: _zip([("case.json", np.random.default_rng(1).bytes(10 * 1024 * 1024 + 10))],
                                       compression=zipfile.ZIP_STORED), "at most 10485760 bytes (10.0 MiB)"),
    "zip bomb ratio": (_bomb_ratio, "'masks/zeros.png' declares 5242880 bytes from"),
    "zip bomb total": (_bomb_total, "declare 60.0 MiB uncompressed; at most 50.0 MiB"),
    "lying header": (_lying_header, "case.json is corrupt in the zip (Bad CRC-32"),
    "too many members": (lambda: _bundle(extra=[(f"masks/{i}.png", b"x") for i in range(200)]),
                         "has 202 members; at most 200"),
    "path traversal": (lambda: _bundle(extra=[("../evil.png", b"x")]), "'../evil.png' leaves the bundle"),
    "absolute path": (lambda: _bundle(extra=[("/etc/passwd", b"x")]), "'/etc/passwd' is an absolute path"),
    "windows path": (lambda: _bundle(extra=[("masks\\..\\x.png", b"x")]), "uses backslashes"),
    "duplicate member": (lambda: _bundle(extra=[("case.json", json.dumps(_document(case={})))]),
                         "'case.json' appears more than once"),
}


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("kind", list(BAD))
def test_bad_bundles_are_rejected_with_their_message_and_write_nothing(world, kind):
    build, expected = BAD[kind]
    problems = _rejected(world, build())
    assert any(expected in p for p in problems), problems


@pytest.mark.django_db
def test_every_problem_is_listed_together(world):
    doc = _document()
    doc["case"]["diagnosis_id"] = "disease:dragon_pox"
    doc["studies"][0]["findings"][0]["laterality"] = "none"
    problems = _rejected(world, _bundle(doc, masks={}))  # and the mask is missing
    assert len(problems) == 3, problems
    assert "disease:dragon_pox" in problems[0]
    assert "laterality 'none' is impossible" in problems[1]
    assert "masks/1-1.png is referenced but missing" in problems[2]


def test_reading_stops_at_the_limit_even_when_the_stream_lies():
    """The decompression guard does not trust zipfile to honour the header."""
    class Stream(io.RawIOBase):
        served = 0

        def read(self, n=-1):
            Stream.served += n
            return b"\0" * n  # endless

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    class Archive:
        def open(self, info):
            return Stream()

    info = zipfile.ZipInfo("case.json")
    info.file_size = 1000
    with pytest.raises(BundleError) as error:
        bundles._read(Archive(), info, bundles._Budget(), bundles.MAX_CASE_JSON_BYTES)
    assert "decompresses past its declared 1000 bytes" in error.value.problems[0]
    assert Stream.served <= 2 * bundles._CHUNK


def test_parse_bundle_returns_what_case_create_needs():
    parsed = parse_bundle(_bundle())
    assert parsed.content == RICH_CONTENT and parsed.kg_version == "1.0.0"
    finding = parsed.studies[0].findings[0]
    assert set(finding) == {"key", "laterality", "severity", "mask_png_b64"}
    assert base64.b64decode(finding["mask_png_b64"])[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------ HTTP and permissions


@pytest.mark.django_db
def test_import_page_lists_every_problem_and_keeps_nothing(world, client):
    client.force_login(world.emil)
    assert client.get("/cases/import/").status_code == 200
    doc = _document()
    doc["case"]["diagnosis_id"] = "disease:dragon_pox"
    doc["studies"][0]["findings"][0]["key"] = "unicorn"
    before = Case.objects.count()
    response = client.post("/cases/import/", {"bundle": io.BytesIO(_bundle(doc, masks={}))})
    page = response.content.decode()
    assert response.status_code == 422 and Case.objects.count() == before
    assert "3 problems" in page and "dragon_pox" in page and "unicorn" in page
    assert "referenced but missing" in page
    response = client.post("/cases/import/", {})
    assert response.status_code == 400 and Case.objects.count() == before
    assert "This field is required" in response.content.decode()


@pytest.mark.django_db
def test_import_checks_csrf(world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.emil)
    response = client.post("/cases/import/", {"bundle": io.BytesIO(_bundle())})
    assert response.status_code == 403 and Case.objects.count() == 1


@pytest.mark.django_db
def test_import_refuses_an_oversized_request_before_reading_it(world, client):
    client.force_login(world.emil)
    big = io.BytesIO(b"\0" * (bundles.MAX_BUNDLE_BYTES + 200 * 1024))
    big.name = "big.radsim.zip"
    response = client.post("/cases/import/", {"bundle": big})
    assert response.status_code == 413 and "larger than 10 MiB" in response.content.decode()


def _asgi_upload(user, body: bytes, chunk: int, declare: int | None = None) -> tuple[int, str]:
    """POST `body` to the import page through the project's ASGI application as a chunked upload (no
    Content-Length, or `declare` as one, in which case no body is sent: the answer must come without it),
    logged in as `user`, with a valid CSRF token; returns (status, page)."""
    from asgiref.sync import async_to_sync
    from asgiref.testing import ApplicationCommunicator
    from django.test import Client
    from django.test.client import BOUNDARY, encode_multipart

    from simulator.asgi import application

    session = Client()
    session.force_login(user)
    secret = "c" * 32  # an unmasked CSRF secret is accepted as cookie and as form token
    form = encode_multipart(BOUNDARY, {"csrfmiddlewaretoken": secret, "bundle": io.BytesIO(body)})
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/cases/import/", "raw_path": b"/cases/import/", "query_string": b"", "root_path": "",
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
            (b"content-length", str(declare).encode()) if declare else (b"transfer-encoding", b"chunked"),
            (b"cookie", f"sessionid={session.cookies['sessionid'].value}; csrftoken={secret}".encode()),
        ],
    }

    async def run():
        app = ApplicationCommunicator(application, scope)
        for start in range(0, 0 if declare else len(form), chunk):
            await app.send_input({"type": "http.request", "body": form[start:start + chunk],
                                  "more_body": start + chunk < len(form)})
        head = await app.receive_output(30)
        page = b""
        while True:
            message = await app.receive_output(30)
            page += message.get("body", b"")
            if not message.get("more_body"):
                break
        await app.wait(5)
        return head["status"], page.decode()

    return async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_import_refuses_an_oversized_chunked_upload_that_declares_no_size(world):
    before = Case.objects.count()
    status, page = _asgi_upload(world.emil, b"\0" * (bundles.MAX_BUNDLE_BYTES + 200 * 1024), chunk=1024 * 1024)
    assert status == 413 and "larger than 10 MiB" in page and Case.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_an_upload_declaring_an_oversized_body_is_refused_without_reading_it(world):
    status, page = _asgi_upload(world.emil, b"", chunk=1, declare=bundles.MAX_BUNDLE_BYTES + 200 * 1024)
    assert status == 413 and "larger than 10 MiB" in page


@pytest.mark.django_db(transaction=True)
def test_a_chunked_upload_under_the_cap_imports_as_usual(world):
    before = Case.objects.count()
    status, page = _asgi_upload(world.emil, _bundle(), chunk=1000)
    assert status == 302 and Case.objects.count() == before + 1, page


@pytest.mark.django_db
def test_export_and_import_permissions(world, client):
    url = f"/cases/{world.case.pk}/export/"
    client.force_login(world.emil)  # a co-author in the same organisation
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    client.force_login(world.olga)  # another organisation
    assert client.get(url).status_code == 404
    assert client.get("/cases/999999/export/").status_code == 404
    for student in (world.sam, world.tara):
        client.force_login(student)
        assert client.get(url).status_code == 403
        assert client.get("/cases/import/").status_code == 403
        assert client.post("/cases/import/", {"bundle": io.BytesIO(_bundle())}).status_code == 403
    client.force_login(world.ivan)
    assert client.get(url).status_code == 403 and client.get("/cases/import/").status_code == 403
    assert Case.objects.count() == 1
    client.logout()
    assert client.get(url).status_code == 302 and client.get("/cases/import/").status_code == 302


@pytest.mark.django_db
def test_buttons_link_to_export_and_import(world, client):
    client.force_login(world.elena)
    assert f"/cases/{world.case.pk}/export/" in client.get(f"/cases/{world.case.pk}/edit/").content.decode()
    assert "/cases/import/" in client.get("/cases/").content.decode()


@pytest.mark.django_db
def test_what_case_create_still_refuses_is_reported_and_rolled_back(world, monkeypatch):
    """parse_bundle's checks missing something: case_create's refusal becomes the problem list, no rows."""
    good = parse_bundle(_bundle())
    bad_study = StudyInput(**{**good.studies[0].__dict__,
                              "findings": [{"key": "effusion", "laterality": "up"}]})
    monkeypatch.setattr(bundles, "parse_bundle", lambda data: bundles.ParsedBundle(
        content=good.content, studies=[bad_study], kg_version=good.kg_version))
    problems = _rejected(world, b"ignored")
    assert problems == ["case.json.findings: Chest X-ray PA: unknown laterality 'up' for 'effusion'"]
