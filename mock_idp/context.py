"""Everything a handler needs, built once per worker process from the settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from mock_idp.clients import Client, load_clients
from mock_idp.directory import Directory
from mock_idp.faults import FaultSet, TokenFault
from mock_idp.keys import KeySet, LiveKeys, ensure_keys
from mock_idp.metrics import Metrics
from mock_idp.recent_tokens import RecentTokens
from mock_idp.routes import TOKEN, TRUSTMARK
from mock_idp.sealing import Sealer, ensure_secret, load_secret
from mock_idp.settings import Settings
from mock_idp.store import Store, open_store


@dataclass
class Context:
    settings: Settings
    issuer: str
    live_keys: LiveKeys
    sealer: Sealer
    store: Store
    clients: dict[str, Client]
    directory: Directory
    metrics: Metrics
    faults: FaultSet
    clock: Callable[[], float] = time.time
    recent_tokens: RecentTokens = field(default_factory=RecentTokens)
    token_fault: TokenFault | None = None  # drawn for the /token answer being made (fault_answers.py)

    @property
    def keys(self) -> KeySet:
        """The signing keys now (``loginload idp rotate-key`` reaches running workers within a second)."""
        return self.live_keys.current()

    @property
    def token_endpoint(self) -> str:
        return self.issuer + TOKEN

    @cached_property
    def vtm(self) -> str:
        host = urlsplit(self.issuer).netloc
        return f"{self.issuer}{TRUSTMARK}{host}"


def prepare_state(settings: Settings) -> None:
    """Create keys, sealing secret and (with no clients configured) the dev client: once, before workers."""
    state = settings.state_path
    state.mkdir(parents=True, exist_ok=True)
    ensure_keys(state)
    ensure_secret(state)
    load_clients(settings.clients, state, settings.issuer_url, _config_base(settings))


def _config_base(settings: Settings) -> Path:
    return Path(settings.config).parent if settings.config else Path(".")


def build_context(settings: Settings, clock: Callable[[], float] = time.time) -> Context:
    prepare_state(settings)
    state = settings.state_path
    store = open_store(settings.store, state, clock)
    metrics = Metrics()
    faults = FaultSet(settings.faults, store, state, metrics.fault, clock, settings.population_rule.seed)
    return Context(
        settings=settings,
        issuer=settings.issuer_url,
        live_keys=LiveKeys(state),
        sealer=Sealer(load_secret(state), clock),
        store=store,
        clients=load_clients(settings.clients, state, settings.issuer_url, _config_base(settings)),
        directory=Directory(settings, store),
        metrics=metrics,
        faults=faults,
        clock=clock,
    )
