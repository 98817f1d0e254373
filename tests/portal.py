"""The demo service for real, for the tests: ``loginload idp`` with the portal registered (and the NHS
App, single sign-on's first relying party, as ``loginload run`` registers it), and the portal on uvicorn
(two workers), both on 127.0.0.1, started and stopped by PID."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from loginload import nhs_app
from loginload.processes import free_port
from loginload.rp_demo import Demo, prepare_demo
from tests.servers import IdpServer, start_idp


@dataclass
class Portal:
    idp: IdpServer
    demo: Demo
    app: nhs_app.NhsApp


def start_portal(base: Path, register_wrong_key: bool = False) -> Portal:
    demo = prepare_demo(base / "demo", free_port())
    clients = demo.registration.clients_toml
    if register_wrong_key:  # the IdP holds another key's public half: every code exchange is refused
        clients = prepare_demo(base / "other", free_port()).registration.clients_toml.replace(
            '"example-gp-portal"', f'"{demo.registration.client_id}"'
        )
        clients = clients.replace(
            clients.split("redirect_uris = ")[1].split("\n")[0], f'["{demo.base_url}/callback"]'
        )
    app = nhs_app.create(base / "nhs-app")
    config = base / "idp.toml"
    config.write_text("[idp]\npopulation = 10000000\n" + clients + app.clients_toml)  # as the tests' tiers
    idp = start_idp(base / "state", "--config", str(config))
    try:
        demo.start(idp.base_url, base / "logs")
    except BaseException:
        idp.stop()
        raise
    return Portal(idp, demo, app)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    p = start_portal(tmp_path_factory.mktemp("portal"))
    try:
        yield p
    finally:
        p.demo.stop()
        p.idp.stop()
