"""Load shedding in http.App (issue 14): a request read too far into its event-loop turn is answered
503 temporarily_unavailable with Retry-After, the operational routes never are, and the 503 the inline
protocol writes from App.shed is the one App.respond renders.

The turns are real asyncio turns and the clock is the app's injected one: nothing here is timed."""

from __future__ import annotations

import asyncio

import orjson

from mock_idp.app import create_app
from mock_idp.fault_rules import parse_rules
from mock_idp.http import SHED_DESCRIPTION, App, Response
from mock_idp.settings import Settings

DISCOVERY = "/.well-known/openid-configuration"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def app_with_clock(settings: Settings) -> tuple[App, Clock]:
    app = create_app(settings.replace(shed_turn_ms=100.0))
    clock = Clock()
    app.clock = clock
    return app, clock


def get(app: App, path: str) -> Response:
    return app.respond("GET", path, b"", {}, b"")


def errors_counted(app: App) -> float:
    registry = app.context.metrics.registry  # type: ignore[attr-defined]
    value = registry.get_sample_value("mock_idp_oauth_errors_total", {"error": "temporarily_unavailable"})
    return value or 0.0


def assert_shed(response: Response) -> None:
    assert response.status == 503
    assert (b"retry-after", b"1") in response.headers
    body = {"error": "temporarily_unavailable", "error_description": SHED_DESCRIPTION}
    assert orjson.loads(response.body) == body


async def end_of_turn() -> None:
    """Let the event loop finish this turn: the callback the turn's first request scheduled runs before
    this coroutine is resumed (call_soon callbacks run in order). One turn, not a wait for time."""
    await asyncio.sleep(0)


def test_a_request_read_past_the_turn_budget_is_shed_until_the_turn_ends(settings: Settings) -> None:
    app, clock = app_with_clock(settings)

    async def scenario() -> None:
        assert get(app, DISCOVERY).status == 200  # the turn's first request: the turn starts now
        clock.now = 0.099
        assert get(app, DISCOVERY).status == 200  # 99 ms into the turn: within the budget
        clock.now = 0.101
        assert_shed(get(app, DISCOVERY))  # it waited behind 101 ms of this turn's requests
        assert app.shed("GET", DISCOVERY) is app.shed_response  # the inline protocol's fast path agrees
        assert app.shed("POST", "/sign-in") is app.shed_response  # before the method or body is looked at
        for path in ("/health", "/metrics"):  # never shed
            assert get(app, path).status == 200
            assert app.shed("GET", path) is None
        assert app.shed("GET", "/no-such-path") is None  # a 404 either way, left to respond()
        assert get(app, "/no-such-path").status == 404
        await end_of_turn()
        assert get(app, DISCOVERY).status == 200  # a new turn starts at 101 ms: admitted again
        assert app.shed("GET", DISCOVERY) is None

    asyncio.run(scenario())


def test_every_shed_request_is_counted_once(settings: Settings) -> None:
    app, clock = app_with_clock(settings)

    async def scenario() -> None:
        get(app, DISCOVERY)
        clock.now = 1.0
        before = errors_counted(app)
        assert_shed(get(app, DISCOVERY))
        assert app.shed("GET", DISCOVERY) is not None
        assert errors_counted(app) == before + 2

    asyncio.run(scenario())


def test_outside_an_event_loop_there_are_no_turns(settings: Settings) -> None:
    """A direct call (a script) has no loop to end a turn: the budget does not apply."""
    app, clock = app_with_clock(settings)
    assert get(app, DISCOVERY).status == 200
    clock.now = 10.0
    assert get(app, DISCOVERY).status == 200


def test_a_zero_budget_admits_only_the_first_request_of_each_turn(settings: Settings) -> None:
    app = create_app(settings.replace(shed_turn_ms=0.0))
    app.clock = Clock()  # time stands still: only the turn can end the shedding

    async def scenario() -> None:
        assert get(app, DISCOVERY).status == 200
        assert get(app, DISCOVERY).status == 200  # 0 s into the turn is not past a 0 s budget
        app.clock.now = 1e-6  # type: ignore[attr-defined]
        assert_shed(get(app, DISCOVERY))
        await end_of_turn()
        assert get(app, DISCOVERY).status == 200

    asyncio.run(scenario())


def test_the_in_flight_limit_sheds_on_both_paths(settings: Settings) -> None:
    app = create_app(settings.replace(max_inflight=0))
    assert_shed(get(app, DISCOVERY))
    assert app.shed("GET", DISCOVERY) is app.shed_response
    assert get(app, "/health").status == 200


def test_a_fault_rule_still_answers_before_shedding(settings: Settings) -> None:
    """A route with fault rules is left to respond(), which draws the rule first, as before."""
    app = create_app(settings.replace(max_inflight=0, faults=parse_rules(["discovery:error=500"])))
    assert app.shed("GET", DISCOVERY) is None
    assert get(app, DISCOVERY).status == 500
    assert_shed(get(app, "/.well-known/jwks.json"))
