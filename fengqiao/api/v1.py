"""/api/v1/: the versioned REST API. Every viewset is registered here (a test walks this router)."""

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.routers import DefaultRouter

from fengqiao.api.areas import AreaChangeViewSet, AreaViewSet, GridLayerViewSet, GridViewSet
from fengqiao.api.centres import (
    CentreViewSet,
    ReceptionViewSet,
    ServiceSpaceViewSet,
    SpaceTypeViewSet,
    StationingViewSet,
)
from fengqiao.api.departments import CategoryViewSet, DepartmentViewSet
from fengqiao.api.locate import LocateView

TokenView = extend_schema_view(post=extend_schema(tags=["auth"], summary="Obtain an API token"))(ObtainAuthToken)

router = DefaultRouter()
router.register("areas", AreaViewSet, basename="area")
router.register("area-changes", AreaChangeViewSet, basename="area-change")
router.register("grid-layers", GridLayerViewSet, basename="grid-layer")
router.register("grids", GridViewSet, basename="grid")
router.register("departments", DepartmentViewSet, basename="department")
router.register("categories", CategoryViewSet, basename="category")
router.register("centres", CentreViewSet, basename="centre")
router.register("space-types", SpaceTypeViewSet, basename="space-type")
router.register("spaces", ServiceSpaceViewSet, basename="space")
router.register("stationings", StationingViewSet, basename="stationing")
router.register("receptions", ReceptionViewSet, basename="reception")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("locate", LocateView.as_view(), name="locate"),
    *router.urls,
]
