"""Included by fengqiao/urls.py ahead of the admin site, so ``admin/login/`` is the two-step sign-in."""

from django.urls import path

from fengqiao.security import views

app_name = "security"

urlpatterns = [
    path("admin/login/", views.sign_in, name="login"),
    path("admin/login/verify/", views.verify, name="verify"),
    path("admin/login/enrol/", views.enrol, name="enrol"),
]
