from api_targets import api  # noqa: F401  (the fixture every test here takes)
