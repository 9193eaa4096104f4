"""OpenAPI description of ExpiringTokenAuthentication (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    target_class = "fengqiao.security.authentication.ExpiringTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Expiring API token, sent as "Token fq_…" (see `fengqiao token create`).',
        }
