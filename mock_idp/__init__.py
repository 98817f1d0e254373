"""loginload's mock of NHS login's OpenID Connect provider.

A stand-in for load tests: NHS login forbids load testing its own environments. This package is a
MOCK; it holds no real identities and must never be mistaken for the real service.
"""

MOCK_BANNER = "MOCK NHS login (loginload) - not a real identity provider; synthetic citizens only"
