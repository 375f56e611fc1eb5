"""Re-rolls as the review page makes them (:func:`mvtimeline.pipeline.make_take` then
:func:`~mvtimeline.pipeline.place_take`), without the browser: what lands in plan.json and the cache."""

from __future__ import annotations

import json

import pytest

from mvtimeline import pipeline
from mvtimeline.errors import InputError
from support.browser import review_folder
from support.cli import run_cli


@pytest.fixture
def cast_folder(word_song, tmp_path):
    toml = tmp_path / "mvtimeline.toml"
    toml.write_text('[cast.Anna]\nrole = "lead singer"\nappearance = "short silver hair, red jacket"\n\n'
                    '[cast.Ben]\nrole = "guitarist"\nappearance = "long beard, denim vest"\n', encoding="utf-8")
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)  # ./mvtimeline.toml is read by default
    try:
        return review_folder(word_song, tmp_path / "work", takes=1)
    finally:
        os.chdir(cwd)


def test_a_new_singer_renders_the_prompts_again_each_time(cast_folder):
    folder = cast_folder
    before = pipeline.open_folder(folder).load_plan().segments[2]
    assert before.singer == "" and "denim vest" not in before.image_prompt
    new = pipeline.make_take(folder, 3, edits={"singer": "Ben"})
    assert new.choose and new.changes["singer"] == "Ben"
    pipeline.place_take(folder, new)
    seg = pipeline.open_folder(folder).load_plan().segments[2]
    assert seg.singer == "Ben" and seg.image_prompt.startswith("guitarist, long beard, denim vest")
    assert seg.take == new.take
    record = json.loads(new.clip.path.with_suffix(".json").read_text())
    assert record["request"]["image_prompt"] == seg.image_prompt  # the take shows what plan.json says
    run_cli("plan", folder, check=True)  # a re-plan keeps it, and the take still fits
    project = pipeline.open_folder(folder)
    plan = project.load_plan()
    assert plan.segments[2].singer == "Ben"
    assert 3 in project.chosen_clips(plan, project.load_analysis(), pipeline.project_backend(project), missing_ok=True)
    again = pipeline.make_take(folder, 3, edits={"singer": "Anna"})  # a second change is not frozen by the first
    pipeline.place_take(folder, again)
    seg = pipeline.open_folder(folder).load_plan().segments[2]
    assert seg.singer == "Anna" and seg.image_prompt.startswith("lead singer, short silver hair")


def test_a_take_made_for_bounds_moved_meanwhile_is_not_put_on_the_timeline(word_song, tmp_path):
    folder = review_folder(word_song, tmp_path / "work", takes=1)
    new = pipeline.make_take(folder, 3, edits={"motion_prompt": "slow pan"})
    choices = pipeline.cut_choices(folder, 3)
    start = pipeline.open_folder(folder).load_plan().segments[2].start_s
    other = next(c.time_s for c in choices if abs(c.time_s - start) > 1e-3)
    pipeline.move_cut(folder, 3, other)
    with pytest.raises(InputError, match="moved while its take"):
        pipeline.place_take(folder, new)
    assert pipeline.open_folder(folder).load_plan().segments[2].motion_prompt != "slow pan"
