"""Service kit shared by every codeeval service: bootstrap, interceptors, settings, clients.

Cores never import this package's gRPC parts; they raise :mod:`codeeval.kit.errors` exceptions,
which the error interceptor maps to status codes.
"""
