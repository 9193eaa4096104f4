"""Area scoping for admin pages: the admin is a web UI, so it sees what the API sees (ADR 0009).

A ModelAdmin of a scoped model mixes in `ScopedAdminMixin` and names the path of the object's area in
`admin_scope_path`; its querysets (lists, change pages, search, actions) then pass through the request's Scope.
An object outside the scope is "not found" — the admin answers as for an id that does not exist.
"""

from fengqiao.accounts.scope import request_scope


class ScopedAdminMixin:
    admin_scope_path: str = ""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not self.admin_scope_path:
            raise TypeError(f"{type(self).__name__} must set admin_scope_path")
        return request_scope(request).filter(queryset, self.admin_scope_path)
