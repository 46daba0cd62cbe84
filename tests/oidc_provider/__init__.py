"""A real OpenID Connect provider for the sign-in tests: a small Django project on
django-oauth-toolkit, run as its own process on loopback by the `oidc_provider` fixture."""
