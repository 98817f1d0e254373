"""The ``loginload`` command: the orchestrator at the top of the stack.

It starts the parts below it as real processes (the mock IdP from :mod:`mock_idp`, Locust master and
workers running :mod:`loadtests`), watches them, and hands their measurements to :mod:`reports`.
Nothing below imports this package (``tests/test_layering.py`` walks the imports to prove it).
"""
