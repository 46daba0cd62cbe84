"""Single sign-on with the company's OpenID Connect provider (mozilla-django-oidc underneath):
configuration and discovery, claims -> roles and teams, the portal's sign-in views, and the
verification of OIDC access tokens (JWT) for the API."""
