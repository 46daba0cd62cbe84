"""Portal pages of explainability (namespace `explainability`)."""

from django.urls import path

from explainability import views

urlpatterns = [
    path("models/<slug:name>/v<int:version>/jobs/", views.job_start, name="job-start"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/<int:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/status/", views.job_status, name="job-status"),
    path("jobs/<int:job_id>/retry/", views.job_retry, name="job-retry"),
    path("jobs/<int:job_id>/files/<str:name>", views.job_file, name="job-file"),
]
