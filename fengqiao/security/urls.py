"""Included by fengqiao/urls.py ahead of the admin site, so ``admin/login/`` is the two-step sign-in and
``admin/password_change/`` the audited password change (which says why when the password has expired)."""

from django.urls import path

from fengqiao.security import views

app_name = "security"

urlpatterns = [
    path("admin/login/", views.sign_in, name="login"),
    path("admin/login/verify/", views.verify, name="verify"),
    path("admin/login/enrol/", views.enrol, name="enrol"),
    path("admin/password_change/", views.password_change, name="password_change"),
]
