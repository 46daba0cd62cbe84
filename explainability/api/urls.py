from django.urls import path

from explainability.api import views

urlpatterns = [
    path(
        "models/<slug:model_name>/versions/<int:version>/jobs/",
        views.VersionJobsView.as_view(),
        name="version-jobs",
    ),
    path("jobs/", views.JobListView.as_view(), name="job-list"),
    path("jobs/<int:pk>/", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel/", views.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<int:pk>/retry/", views.JobRetryView.as_view(), name="job-retry"),
    path("jobs/<int:pk>/files/<str:name>", views.JobFileView.as_view(), name="job-file"),
]
