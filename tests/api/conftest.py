from api_helpers import alice, app_settings, bob, http  # noqa: F401  (fixtures)
