from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from fengqiao.core.views import health

admin.site.site_header = admin.site.site_title = "枫桥 fengqiao"
admin.site.index_title = "基层社会治理平台管理 / Administration"

urlpatterns = [
    path("healthz", health, name="health"),
    path("api/", include("fengqiao.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("open311/v2/", include("fengqiao.open311.urls")),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
urlpatterns += i18n_patterns(
    # The two-step sign-in takes over admin/login/ (ADR 0010), so it comes before the admin site.
    path("", include("fengqiao.security.urls")),
    path("admin/", admin.site.urls),
    prefix_default_language=False,
)
