"""The HTTP API's routers, one per resource, and what they share.

``deps`` holds what the routes depend on (the services, the caller, the per-address limit and the
shared parameters), ``responses`` the error bodies and their documentation, ``forms`` the
form-encoded bodies of the OAuth endpoints and the user's pages. ``linkserver.app`` assembles the
routers into the application.
"""
