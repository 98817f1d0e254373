"""Services that sit behind NHS login, for loginload to load in relying-party mode.

Each is a stand-alone example a team can copy: it speaks only HTTP and OpenID Connect to the
identity provider and imports nothing of loginload's (``tests/test_layering.py`` checks that).
"""
