from tests.portal import portal  # noqa: F401 (the fixture: the demo service and the mock, for real)
