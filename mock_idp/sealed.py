"""What the mock seals (``sealing.py`` does the sealing): the journey's state and what it hands out.

    Flow                the sign-in journey between /authorize and the code: the authorization request,
                        the step it is at, the citizen once known, and a registration's answers
    AuthorizationCode   the code /token redeems (RFC 6749 §4.1.2): whom, for which client, what vector
    RefreshToken        a generation of a refresh-token family (RFC 6749 §6; rotation in token_endpoint)
    SsoSession          the single sign-on cookie: who signed in, when, with which credentials
    RememberedDevice    the "remember this device" cookie: the citizen and a device id in the store

Each is a small dataclass that seals and unseals itself: ``value = x.seal(sealer, ttl)`` and
``X.unseal(sealer, value)`` (raising :class:`~mock_idp.sealing.Unsealable`). A sealed value travels in
a form field, a URL or a cookie, so it is kept small: on the wire the fields have one- or two-letter
keys, and ``to_wire``/``from_wire`` here are the only place that spells them. A new sealed value
follows the same pattern: a ``PURPOSE`` (bound as associated data, so one kind can never be opened as
another), ``to_wire`` and ``from_wire``. They are values, never changed once built; not declared
frozen because a frozen dataclass costs five times as much to build, and a login builds several.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from mock_idp.sealing import Sealer


class Sealed:
    __slots__ = ()
    PURPOSE: ClassVar[str]

    def to_wire(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Self:
        raise NotImplementedError

    def seal(self, sealer: Sealer, ttl: float) -> str:
        return sealer.seal(self.PURPOSE, self.to_wire(), ttl)

    @classmethod
    def unseal(cls, sealer: Sealer, value: str) -> Self:
        return cls.from_wire(sealer.unseal(cls.PURPOSE, value))


@dataclass(slots=True)
class AuthRequest:
    """A validated authorization request (``authorize.py``), carried through the journey in its Flow."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    nonce: str
    vtr: tuple[str, ...]
    code_challenge: str
    prompt: str
    allow_registration: bool = True

    def to_wire(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "c": self.client_id,
            "r": self.redirect_uri,
            "s": " ".join(self.scopes),
            "st": self.state,
            "n": self.nonce,
            "v": list(self.vtr),
            "cc": self.code_challenge,
            "p": self.prompt,
        }
        if not self.allow_registration:
            d["ar"] = False
        return d

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Self:
        return cls(
            d["c"],
            d["r"],
            tuple(d["s"].split()),
            d["st"],
            d["n"],
            tuple(d["v"]),
            d["cc"],
            d["p"],
            d.get("ar", True),
        )


@dataclass(slots=True)
class Flow(Sealed):
    """The journey's state, in every form's hidden ``flow`` field; ``stage`` names the step it is for."""

    PURPOSE: ClassVar[str] = "flow"
    auth: AuthRequest
    stage: str = ""
    index: int | None = None  # the citizen, once signed in
    creds: tuple[str, ...] = ()  # the credentials they used ("Cp", "Cd")
    auth_time: int = 0  # when they authenticated (0: not yet)
    target: str = ""  # the uplift's proofing level
    email: str = ""  # a registration's answers, until the account exists
    password_hash: str = ""
    mobile: str = ""

    def to_wire(self) -> dict[str, Any]:
        d = self.auth.to_wire()
        d["stage"] = self.stage
        if self.index is not None:
            d["i"] = self.index
        if self.creds:
            d["cr"] = list(self.creds)
        if self.auth_time:
            d["at"] = self.auth_time
        if self.target:
            d["target"] = self.target
        if self.email:
            d["e"] = self.email
        if self.password_hash:
            d["pw"] = self.password_hash
        if self.mobile:
            d["m"] = self.mobile
        return d

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Self:
        g = d.get
        return cls(
            AuthRequest.from_wire(d),
            g("stage", ""),
            g("i"),
            tuple(g("cr", ())),
            g("at", 0),
            g("target", ""),
            g("e", ""),
            g("pw", ""),
            g("m", ""),
        )


@dataclass(slots=True)
class AuthorizationCode(Sealed):
    PURPOSE: ClassVar[str] = "code"
    client_id: str
    redirect_uri: str
    index: int
    scopes: tuple[str, ...]
    nonce: str
    vot: str
    auth_time: int
    code_challenge: str
    family: str  # unique per code: names the refresh-token family it starts, and marks it spent

    def to_wire(self) -> dict[str, Any]:
        return {
            "c": self.client_id,
            "r": self.redirect_uri,
            "i": self.index,
            "s": " ".join(self.scopes),
            "n": self.nonce,
            "v": self.vot,
            "at": self.auth_time,
            "cc": self.code_challenge,
            "j": self.family,
        }

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Self:
        return cls(
            d["c"], d["r"], int(d["i"]), tuple(d["s"].split()), d["n"], d["v"], d["at"], d["cc"], d["j"]
        )


@dataclass(slots=True)
class RefreshToken(Sealed):
    PURPOSE: ClassVar[str] = "refresh"
    client_id: str
    index: int
    scopes: tuple[str, ...]
    vot: str
    family: str
    generation: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "c": self.client_id,
            "i": self.index,
            "s": " ".join(self.scopes),
            "v": self.vot,
            "f": self.family,
            "g": self.generation,
        }

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Self:
        return cls(d["c"], int(d["i"]), tuple(d["s"].split()), d["v"], d["f"], int(d["g"]))


@dataclass(slots=True)
class SsoSession(Sealed):
    PURPOSE: ClassVar[str] = "sso"
    index: int
    auth_time: int
    creds: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"i": self.index, "at": self.auth_time, "cr": list(self.creds)}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Self:
        return cls(int(d["i"]), int(d["at"]), tuple(d["cr"]))


@dataclass(slots=True)
class RememberedDevice(Sealed):
    PURPOSE: ClassVar[str] = "device"
    index: int
    device_id: str

    def to_wire(self) -> dict[str, Any]:
        return {"i": self.index, "d": self.device_id}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Self:
        return cls(d["i"], str(d["d"]))


@dataclass(slots=True)
class IdTokenId(Sealed):
    """An ID token's ``jti``: which citizen it was issued for, to which client, when and how they signed
    in. NHS App single sign-on hands it back as an asserted identity's ``code`` (asserted_login.py)."""

    PURPOSE: ClassVar[str] = "idt"
    index: int
    client_id: str
    auth_time: int
    creds: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"i": self.index, "c": self.client_id, "at": self.auth_time, "cr": list(self.creds)}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Self:
        return cls(int(d["i"]), str(d["c"]), int(d["at"]), tuple(d["cr"]))
