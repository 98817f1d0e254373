"""The service's CPU from its Prometheus /metrics (a real HTTP server on 127.0.0.1), and CPU readings
turned into shares of a core between the runner's ticks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loadtests.options import RUN, defaults
from loginload.preflight import check_rp_metrics
from loginload.service_cpu import CpuMeter, parse, scrape

TEXT = """# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total{worker="1"} 12.5
process_cpu_seconds_total{worker="2"} 7.25
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2e+07
"""


class Metrics(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # http.server names it
        Metrics.requests.append(self.path)
        if self.path == "/moved":  # a redirect to a page that would answer: it must not be followed
            self.send_response(302)
            self.send_header("Location", "/metrics")
            self.end_headers()
            return
        body = (TEXT if self.path == "/metrics" else "no metrics here\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_parse_sums_every_cpu_sample_and_says_none_without_one() -> None:
    assert parse(TEXT) == pytest.approx(19.75)
    assert parse("process_resident_memory_bytes 1.0\n") is None


def test_scrape_reads_a_real_metrics_page(server: str) -> None:
    assert scrape(server + "/metrics", frozenset()) == pytest.approx(19.75)


def test_scrape_is_none_for_a_page_without_the_counter_a_redirect_or_a_closed_port(server: str) -> None:
    Metrics.requests.clear()
    assert scrape(server + "/other", frozenset()) is None
    assert scrape(server + "/moved", frozenset()) is None
    assert Metrics.requests == ["/other", "/moved"]  # the redirect's /metrics was never asked for
    assert scrape("http://127.0.0.1:9/metrics", frozenset()) is None


def test_scrape_of_a_host_that_is_not_allowed_is_none_not_an_error() -> None:
    # refused by the safety rule before any socket (the preflight names the rule: test_preflight_rp)
    assert scrape("http://metrics.example.com/metrics", frozenset()) is None


def test_the_meter_gives_shares_between_ticks_and_leaves_out_what_it_cannot_read() -> None:
    readings = iter([10.0, 10.5, None, 12.5, 3.0, 3.25])
    meter = CpuMeter(lambda: next(readings), "metrics")
    assert meter.tick(100.0) is None  # the first reading: nothing to compare with
    assert meter.tick(101.0) == pytest.approx(0.5)
    assert meter.tick(102.0) is None  # unreadable: the next reading spans the gap
    assert meter.tick(103.0) == pytest.approx(1.0)  # 2 s of CPU over 2 s
    assert meter.tick(104.0) is None  # the counter went down (a restart): left out
    assert meter.tick(105.0) == pytest.approx(0.25)
    assert meter.total == pytest.approx(0.5 + 2.0 + 0.25)


def test_the_preflight_accepts_a_metrics_page_that_answers_with_the_counter(server: str) -> None:
    values = defaults(RUN)
    values.rp, values.rp_metrics = "http://127.0.0.1:8000/", server + "/metrics"
    check_rp_metrics(values)  # no error: the service is up and exposes its CPU
    values.rp_metrics = server + "/other"
    with pytest.raises(ValueError, match="no process_cpu_seconds_total there"):
        check_rp_metrics(values)
