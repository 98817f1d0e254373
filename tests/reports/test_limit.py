"""The limit answer: run folders of the default ramp and its limit search, as the collector writes them."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from reports.build import build_report
from reports.capacity import instances_needed
from reports.run import load_run
from reports.sentences import Html, answer
from reports.summary import summarise_run
from tests.reports.conftest import (
    STAIRS,
    generator_saturated,
    limit_run,
    stage,
    stair,
    stair_broke,
    tier_stages,
)

Doc = dict[str, Any]


def summarise(run: Path) -> Doc:
    summary: Doc = json.loads(json.dumps(summarise_run(load_run(run))))
    return summary


def line(summary: Doc, question: str) -> str:
    found = [a for a in summary["headline"]["answer"] if a.startswith(question + ":")]
    assert len(found) == 1, summary["headline"]["answer"]
    return found[0]


@pytest.fixture(scope="module")
def broke(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Doc]:
    run = stair_broke(tmp_path_factory.mktemp("limit") / "broke")
    return run, build_report(run)


@pytest.fixture(scope="module")
def saturated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Doc]:
    run = generator_saturated(tmp_path_factory.mktemp("limit") / "saturated")
    return run, build_report(run)


def test_a_stair_that_breaks_measures_the_limit(broke: tuple[Path, Doc]) -> None:
    _, s = broke
    h, lim = s["headline"], s["headline"]["limit"]
    assert lim["measured"] and not lim["lower_bound"]
    assert h["limit_above_tested"] is False and s["capacity"]["sustainable_is_lower_bound"] is False
    assert lim["holds"]["name"] == "259/s" and lim["breaks"]["name"] == "311/s"
    assert lim["between"] == [259.0, 311.0]
    assert lim["breaks"]["by"] == ["p95"] and lim["breaks"]["growth_step"] == "token"
    assert lim["ended"] == "slo" and lim["stop_stage"] == "311/s"
    assert h["highest_tier"]["name"] == "60m"  # the question about populations is answered by tiers
    assert h["sustainable_rps"] == pytest.approx(259.0)
    target = s["target"]
    assert h["instances_60m"] == instances_needed(target["logins_per_s"], 259.0)
    assert h["instances_surge"] == instances_needed(target["surge_logins_per_s"], 259.0)
    text = line(s, "Where the limit lies")
    assert "One IdP instance (1 worker) holds 259 logins/s at the SLO (259/s)" in text
    assert "the first stair to break was 311 logins/s (311/s), by p95 (p95 " in text
    assert "first at step token" in text
    assert "The limit lies between 259 and 311 logins/s" in text
    assert "2 planned stairs above were not needed" in text
    assert "upper bound" not in " ".join(h["answer"]) and "lower bound" not in " ".join(h["answer"])


def test_stairs_after_the_stop_are_not_needed_not_failures(broke: tuple[Path, Doc]) -> None:
    run, s = broke
    assert s["stages_not_needed"] == ["373/s", "448/s"]
    assert s["stages_not_reached"] == []
    assert s["trust"]["trustworthy"] is True
    assert "not_reached" not in {i["kind"] for i in s["trust"]["issues"]}
    assert [t["name"] for t in s["tiers"]][-1] == "311/s"
    page = (run / "index.html").read_text()
    assert "Stages not needed (the limit search had stopped the run): 373/s, 448/s" in page


def test_generator_saturated_first_gives_a_labelled_bound_and_the_utilisation_law(
    saturated: tuple[Path, Doc],
) -> None:
    _, s = saturated
    h, lim = s["headline"], s["headline"]["limit"]
    assert not lim["measured"] and lim["lower_bound"]
    assert h["limit_above_tested"] is True and s["capacity"]["sustainable_is_lower_bound"] is True
    assert lim["next_run"] == "more_generators"
    assert h["instances_60m"] is None and h["instances_surge"] is None
    est = lim["estimate"]
    # idp.json: 3 ms per completed login plus 0.02 cores idle, at the heaviest passing stair (259/s)
    assert est["basis"] == "259/s"
    assert est["cpu_ms_per_login"] == pytest.approx(3.0 + 20.0 / 259.0)
    assert est["logins_per_s_per_core"] == pytest.approx(1000.0 / est["cpu_ms_per_login"])
    assert est["planning_rps_per_core"] == pytest.approx(0.7 * est["logins_per_s_per_core"])
    assert est["instances_surge"] == instances_needed(
        s["target"]["surge_logins_per_s"], est["logins_per_s_per_core"]
    )
    text = line(s, "Where the limit lies")
    assert "the load generator saturated first, at 311/s (96% of a core)" in text
    assert "so the IdP's limit lies above 259 logins/s (a lower bound, measured)" in text
    assert "Utilisation-law estimate (not a measurement): 3.08 ms of IdP CPU per login at 259/s" in text
    surge = line(s, "Instances for a launch-day surge (x10, 1,250 logins/s)")
    assert surge.startswith("Instances for a launch-day surge (x10, 1,250 logins/s): unknown: the per-")
    assert f"estimate (not a measurement): {est['instances_surge']} instances of 1 core" in surge
    assert "more generator CPU (--generators" in surge


def test_a_run_that_does_not_reach_the_limit_plans_no_instances(tmp_path: Path) -> None:
    """`loginload run --tiers 5m`: one tier held with ease is not the capacity of an instance."""
    run = limit_run(tmp_path / "run", [stage("5m", 10.417, population=5_000_000)], None, meta={"options": {}})
    s = summarise(run)
    h = s["headline"]
    assert h["instances_60m"] is None and h["instances_surge"] is None
    assert s["capacity"]["instances"] == []
    assert h["limit"]["next_run"] == "default_run"
    text = line(s, "Instances for 60m (125.0 logins/s)")
    assert "unknown: the per-instance limit was not reached" in text
    assert "Utilisation-law estimate (not a measurement)" in text
    assert "plain `loginload run`, whose limit search climbs above the top tier" in text
    assert "not reached: every tier passed, so the heaviest, 5m at 10.4 logins/s, is a lower bound" in line(
        s, "Where the limit lies"
    )


def test_without_idp_cpu_the_estimate_is_said_to_be_missing(tmp_path: Path) -> None:
    run = limit_run(tmp_path / "run", [stage("5m", 10.417, population=5_000_000)], None, idp=False)
    s = summarise(run)
    assert s["headline"]["limit"]["estimate"] is None
    assert "No utilisation-law estimate: the IdP's CPU was not measured" in line(s, "Where the limit lies")


def test_every_stair_passing_up_to_max_rate_is_a_bound(tmp_path: Path) -> None:
    search = {"ended": "max_rate", "stage": None, "detail": "every stair passed up to 448/s"}
    run = limit_run(tmp_path / "run", tier_stages() + [stair(r) for r in STAIRS], search)
    s = summarise(run)
    lim = s["headline"]["limit"]
    assert lim["lower_bound"] and lim["next_run"] == "higher_max_rate"
    assert s["headline"]["limit_above_tested"] is True
    assert "every stair passed up to the search's cap, so the limit lies above 448 logins/s" in line(
        s, "Where the limit lies"
    )
    assert "raise --limit-max-rate" in line(s, "Instances for 60m (125.0 logins/s)")


def test_a_tier_that_breaks_needs_no_stairs(tmp_path: Path) -> None:
    tiers = tier_stages(**{"60m": {"slow": {"sign_in": 150.0}}})
    search = {"ended": "tier", "stage": None, "detail": "tier 60m: journey p95 640 ms > 300 ms"}
    run = limit_run(tmp_path / "run", tiers + [stair(r, measured=False) for r in STAIRS[:3]], search)
    s = summarise(run)
    lim = s["headline"]["limit"]
    assert lim["measured"] and lim["between"] == [83.333, 125.0]
    assert lim["breaks"]["name"] == "60m" and lim["breaks"]["growth_step"] == "sign_in"
    assert s["stages_not_needed"] == ["150/s", "180/s", "216/s"]
    assert s["trust"]["trustworthy"] is True
    text = line(s, "Where the limit lies")
    assert "the first tier to break was 125 logins/s (60m)" in text
    assert "a population tier broke, so no stairs were needed above it" in text


def test_errors_and_dropped_starts_are_named_as_what_broke(tmp_path: Path) -> None:
    breaking = stair(311.0, completed=0.9, failed=40, dropped=300)
    search = {"ended": "slo", "stage": 12, "detail": "stage 311/s: error rate 1.6% > 1%"}
    run = limit_run(tmp_path / "run", tier_stages() + [stair(r) for r in STAIRS[:4]] + [breaking], search)
    lim = summarise(run)["headline"]["limit"]
    assert lim["measured"] and lim["breaks"]["by"] == ["errors", "dropped starts"]


def test_idp_cpu_is_read_from_epoch_points_too(tmp_path: Path) -> None:
    run = stair_broke(tmp_path / "run")
    relative = summarise(run)
    doc = json.loads((run / "loadtest.json").read_text())
    idp = json.loads((run / "idp.json").read_text())
    idp["series"] = [{"at": p["t"] + doc["t0"], "cpu_share": p["cpu_share"]} for p in idp["series"]]
    (run / "idp.json").write_text(json.dumps(idp))
    epoch = summarise(run)
    cpu = [t["idp_cpu_ms_per_login"] for t in relative["tiers"]]
    assert all(c is not None for c in cpu)
    assert [t["idp_cpu_ms_per_login"] for t in epoch["tiers"]] == pytest.approx(cpu)
    assert cpu[7] == pytest.approx(3.0 + 20.0 / 125.0)  # 60m: 3 ms a login plus the idle share


def test_html_answer_says_what_the_text_says(broke: tuple[Path, Doc], saturated: tuple[Path, Doc]) -> None:
    for _, s in (broke, saturated):
        for (question, sentence), text in zip(answer(Html(s)), s["headline"]["answer"], strict=True):
            shown = html.unescape(re.sub(r"<[^>]+>", "", sentence))
            assert f"{question}: {shown}" == text


def test_what_was_tested_is_at_the_top_in_words(broke: tuple[Path, Doc]) -> None:
    run, s = broke
    assert s["tested"]["missing"] == []
    page = (run / "index.html").read_text()
    tested = re.search(r'<p class="tested">(.*?)</p>', page)
    assert tested is not None and page.index('class="tested"') < page.index('class="answer"')
    words = html.unescape(re.sub(r"<[^>]+>", "", tested.group(1)))
    assert words.startswith("Tested the embedded mock IdP with 1 IdP worker process, load from 2 generator")
    assert "on AMD EPYC 7B13, 2 cores, Linux 6.1.0 (linux); loginload 0.9.0, Locust 2.32.1" in words
    assert "1800000000" not in page and "{'" not in page  # no epoch times, no raw dictionaries


def test_unrecorded_facts_are_named_not_guessed(tmp_path: Path) -> None:
    run = stair_broke(tmp_path / "run")
    meta = json.loads((run / "run.json").read_text())
    del meta["versions"], meta["machine"]
    (run / "run.json").write_text(json.dumps(meta))
    s = summarise(run)
    assert s["tested"]["missing"] == ["loginload", "locust", "cpu_model", "cores"]
    from reports.sentences import Plain, tested_sentence

    assert tested_sentence(Plain(s)).endswith(
        "Not recorded by this run: loginload version, Locust version, CPU model, cores."
    )


def test_usl_is_not_fitted_while_achieved_keeps_up(broke: tuple[Path, Doc]) -> None:
    run, s = broke
    assert s["capacity"]["usl"] is None
    assert any(n.startswith("Linear so far") for n in s["capacity"]["notes"])
    assert "USL: not fitted, linear so far" in (run / "index.html").read_text()


def test_usl_is_fitted_where_throughput_departs_from_offered(tmp_path: Path) -> None:
    stairs = [stair(r, completed=c) for r, c in zip(STAIRS[:5], (1.0, 0.99, 0.97, 0.9, 0.8), strict=True)]
    search = {"ended": "slo", "stage": 11, "detail": "stage 259/s: achieved 90% < 98%"}
    s = summarise(limit_run(tmp_path / "run", tier_stages() + stairs, search))
    # 8 tiers and the stairs up to the one that broke (stage 11); 311/s, begun while the stop waited
    # for 259/s's last reports, is kept in loadtest.json but judged nowhere
    assert s["capacity"]["usl"] is not None and s["capacity"]["usl"]["points"] == 12
    assert s["stages_not_needed"] == ["311/s"] and s["trust"]["trustworthy"]


def test_the_steps_chart_draws_the_steps_that_take_the_time(broke: tuple[Path, Doc]) -> None:
    run, s = broke
    matter = s["steps_that_matter"]
    assert matter["tier"] == "311/s"
    assert matter["charted"][0] == "token" and len(matter["charted"]) == 5
    shares = matter["shares"]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["token"] > 0.8
    page = (run / "index.html").read_text()
    steps = page[page.index('<section id="steps">') :]
    steps = steps[: steps.index("</section>")]
    for step in ("authorize", "sign_in", "sms_code", "token", "userinfo"):
        assert f"<td>{step}" in steps


def test_only_the_heaviest_steps_are_charted_of_many(tmp_path: Path) -> None:
    from tests.reports.conftest import make_run

    s = summarise(make_run(tmp_path / "run"))
    matter = s["steps_that_matter"]
    all_steps = {step for t in s["tiers"] for step in t["steps"]}
    assert len(all_steps) > 10 and len(matter["charted"]) == 5
    ranked = sorted(matter["shares"], key=lambda k: -matter["shares"][k])
    assert matter["charted"] == ranked[:5]


def test_every_marked_figure_on_the_page_equals_summary_json(
    broke: tuple[Path, Doc], saturated: tuple[Path, Doc]
) -> None:
    from reports.htmlfmt import format_value, resolve

    span = re.compile(r'data-summary="([^"]+)" data-format="(\w+)" data-digits="(\d+)">([^<]*)</span>')
    for run, _ in (broke, saturated):
        page = (run / "index.html").read_text()
        summary = json.loads((run / "summary.json").read_text())
        shown = span.findall(page)
        paths = {p for p, *_ in shown}
        assert "tested.cpu_model" in paths and any(p.startswith("headline.limit.holds.") for p in paths)
        for path, fmt, digits, text in shown:
            assert html.unescape(text) == format_value(resolve(summary, path), fmt, int(digits)), path


def test_a_report_rebuilt_with_a_looser_slo_says_the_stop_passes_it(tmp_path: Path) -> None:
    run = stair_broke(tmp_path / "run")
    s = json.loads(json.dumps(summarise_run(load_run(run), slo_overrides={"p95_ms": 5000.0})))
    lim = s["headline"]["limit"]
    assert lim["lower_bound"] and lim["next_run"] == "looser_slo"
    text = line(s, "Where the limit lies")
    assert "the run's limit search stopped at 311/s (stage 311/s: journey p95 412 ms > 300 ms)" in text
    assert "so the limit lies above 311 logins/s (a lower bound, measured)" in text
