"""The walking skeleton as people use it, in headless Debian chromium against a real daphne:
an educator writes and publishes a case, a student orders the X-ray and watches it stream in,
submits a diagnosis, and the instructor replays the session. An outsider sees none of it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from tests.browser.conftest import login, whole_page_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
SCREENSHOTS.mkdir(parents=True, exist_ok=True)


def test_educator_student_instructor_journey(live_app, new_page):
    base, _ = live_app

    # 2. the educator writes a case from a knowledge-graph diagnosis and publishes it to Group A
    educator = new_page()
    login(educator, base, "educator")
    educator.click("nav >> text=Cases")
    educator.click("text=New case")
    fields = {
        "title": "Fever and right-sided chest pain",
        "patient_age": "61",
        "presenting_complaint": "Three days of fever and right pleuritic pain",
        "history_past_history": "Type 2 diabetes.",
        "history_medications": "Metformin.",
        "diagnosis_synonyms": "parapneumonic effusion",
        "teaching_point": "A meniscus at the costophrenic angle: fluid sits in the dependent pleural space.",
        "study_prompt": "PA chest radiograph with a moderate right pleural effusion",
        "seed": "5",
    }
    for name, value in fields.items():
        educator.fill(f"[name={name}]", value)
    educator.select_option("[name=patient_sex]", "F")
    educator.fill("[name=diagnosis]", "pleural eff")
    educator.click("#diagnosis-results li:has-text('Pleural effusion')")
    assert educator.input_value("[name=diagnosis_id]") == "disease:pleural_effusion"
    educator.click("#suggest")
    educator.wait_for_selector("#suggestions label.suggestion")
    suggested = educator.inner_text("#suggestions")
    assert "effusion" in suggested.lower()
    educator.click("#apply-suggestions")
    assert educator.input_value("[name=finding_0_key]") == "effusion"
    educator.select_option("[name=finding_0_laterality]", "right")
    assert educator.locator("#differentials li").count() >= 1
    whole_page_screenshot(educator, SCREENSHOTS / "case-editor.png")
    educator.click("text=Save draft")
    educator.wait_for_selector("text=saved")
    # the saved case comes back naming what it links, not by knowledge-graph ids
    assert educator.inner_text("#diagnosis-link") == "Linked to Pleural effusion (J90)"
    assert "Lobar collapse (atelectasis)" in educator.inner_text("#differentials")

    # previews of the draft stream in over the same socket machinery; pin the second variant
    educator.click("#preview-four")
    educator.locator(".variant.done").nth(3).wait_for(timeout=120_000)
    assert educator.locator(".variant").count() == 4
    educator.locator(".variant").nth(1).locator(".pin").click()
    educator.wait_for_selector("#autosave-status:has-text('Saved at')")
    seed = educator.input_value("[name=seed]")
    assert seed != "5"
    whole_page_screenshot(educator, SCREENSHOTS / "case-preview.png")
    educator.check("label:has-text('Group A') input")
    educator.click("button:has-text('Publish')")
    educator.wait_for_selector("text=published to Year 3 — Group A")
    case_id = re.search(r"/cases/(\d+)/edit/", educator.url).group(1)

    # 3. the student opens it and orders the chest X-ray; it streams in over the websocket
    student = new_page()
    login(student, base, "student1")
    student.click(f"article:has-text('{fields['title']}') >> text=Open case")
    student.wait_for_url(re.compile(r".*/encounters/\d+/$"))
    encounter_url = student.url
    student.click("button.order")
    student.wait_for_selector("#progress:not([hidden])")
    student.locator("#previews img.preview").nth(2).wait_for()  # three previews have streamed in
    student.wait_for_selector("#viewer.has-image", timeout=90_000)
    progress = student.inner_text("#progress-text")
    assert progress.startswith("done")
    assert student.inner_text(".study-status") == "ready"
    previews = student.eval_on_selector_all("#previews img.preview", "els => els.map(e => e.title)")
    assert len(previews) >= 3 and previews[-1].startswith("step 20")
    provenance = student.inner_text("#provenance")
    assert f"seed {seed} " in provenance and "@" in provenance
    student.wait_for_selector("#viewer canvas")
    student.wait_for_timeout(500)
    shot = student.locator("#viewer").screenshot()
    stats = ImageStat.Stat(Image.open(io.BytesIO(shot)).convert("L"))
    assert stats.stddev[0] > 5, "the viewer shows a flat image"
    assert student.locator("[data-action='preset:lung']").is_hidden()  # CT windows, not for a radiograph
    student.screenshot(path=str(SCREENSHOTS / "student-case.png"))

    # 4. the student submits a diagnosis and sees the teaching point
    student.fill("#answer", "right pleural effusion")
    student.click("text=Submit diagnosis")
    student.wait_for_selector("#result")
    result = student.inner_text("#result")
    assert "Correct" in result and "meniscus" in result

    # 5. the instructor sees the session and its timeline
    instructor = new_page()
    login(instructor, base, "instructor")
    instructor.click("text=Year 3 — Group A")
    instructor.click(f"tr:has-text('{fields['title']}') >> text=Replay")
    timeline = instructor.inner_text(".timeline")
    for step in ("Opened the case", "Ordered a study", "Study generated", "Image shown", "Submitted a diagnosis"):
        assert step in timeline
    assert f"seed {seed}" in timeline and "right pleural effusion" in timeline
    instructor.screenshot(path=str(SCREENSHOTS / "instructor-replay.png"))

    # 6. a student of the other cohort cannot see the case nor open the session's socket
    outsider = new_page(bypass_csp=True)  # the test's own script opens the socket
    login(outsider, base, "student3")
    assert fields["title"] not in outsider.inner_text("main")
    assert outsider.request.post(f"{base}/cases/{case_id}/open/", headers={
        "X-CSRFToken": next(c["value"] for c in outsider.context.cookies() if c["name"] == "csrftoken"),
        "Referer": base + "/"}).status == 404
    assert outsider.goto(encounter_url).status == 404
    # refused at the handshake: the socket never opens (browsers report such a refusal as 1006)
    opened, code = outsider.evaluate(
        """url => new Promise(resolve => {
            let opened = false;
            const ws = new WebSocket(url);
            ws.onopen = () => { opened = true; };
            ws.onclose = e => resolve([opened, e.code]);
        })""",
        encounter_url.replace("http://", "ws://").replace("/encounters/", "/ws/encounters/") + "imaging/",
    )
    assert not opened and code == 1006
    # and a student cannot open instructor pages
    assert outsider.goto(base + "/review/").status == 403
