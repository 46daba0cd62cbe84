from django.urls import path

from openlineage_api.api import views

urlpatterns = [
    path("lineage/openlineage/", views.OpenLineageView.as_view(), name="openlineage"),
]
