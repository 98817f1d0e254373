from tests.portal import portal  # noqa: F401 (the fixture)
