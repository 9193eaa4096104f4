"""/api/v1/: the versioned REST API. Every viewset is registered here (a test walks this router)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from fengqiao.api.areas import AreaChangeViewSet, AreaViewSet, GridLayerViewSet, GridViewSet
from fengqiao.api.auth import TokenView
from fengqiao.api.centres import (
    CentreViewSet,
    ReceptionViewSet,
    ServiceSpaceViewSet,
    SpaceTypeViewSet,
    StationingViewSet,
)
from fengqiao.api.departments import CategoryViewSet, DepartmentViewSet
from fengqiao.api.locate import LocateView
from fengqiao.api.matter_stats import MatterStatsViewSet
from fengqiao.api.matters import (
    DeadlinePolicyViewSet,
    MatterViewSet,
    PublicReportView,
    RatingView,
    SupervisionViewSet,
    SupplementView,
    TaskViewSet,
    TrackView,
)
from fengqiao.api.notifications import InboxViewSet
from fengqiao.api.people import (
    BuildingViewSet,
    HouseholdViewSet,
    OrganisationViewSet,
    PersonViewSet,
    PlaceViewSet,
    SpecialCareViewSet,
)

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
router.register("households", HouseholdViewSet, basename="household")
router.register("persons", PersonViewSet, basename="person")
router.register("buildings", BuildingViewSet, basename="building")
router.register("places", PlaceViewSet, basename="place")
router.register("organisations", OrganisationViewSet, basename="organisation")
router.register("special-care", SpecialCareViewSet, basename="special-care")
router.register("inbox", InboxViewSet, basename="inbox")
router.register("matters", MatterViewSet, basename="matter")
router.register("supervisions", SupervisionViewSet, basename="supervision")
router.register("tasks", TaskViewSet, basename="task")
router.register("deadline-policies", DeadlinePolicyViewSet, basename="deadline-policy")
router.register("matter-stats", MatterStatsViewSet, basename="matter-stats")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("locate", LocateView.as_view(), name="locate"),
    path("track/<str:code>/", TrackView.as_view(), name="track"),
    path("track/<str:code>/rating/", RatingView.as_view(), name="track-rating"),
    path("track/<str:code>/supplement/", SupplementView.as_view(), name="track-supplement"),
    path("reports/", PublicReportView.as_view(), name="public-report"),
    *router.urls,
]
