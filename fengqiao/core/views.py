"""Operational endpoints."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def health(request):
    """Liveness for load balancers and `fengqiao bench`: public, no data. ``?db=1`` also checks the database."""
    if request.GET.get("db"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


health.public_reason = "liveness probe for load balancers: answers ok, reveals nothing"
