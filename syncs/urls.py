from django.urls import path

from . import views

# Mounted under /api/<category>/v1/ by config.urls.
urlpatterns = [
    path("employees", views.EmployeeListView.as_view(), name="employees-list"),
    path("employees/<uuid:employee_id>", views.EmployeeRetrieveView.as_view(), name="employees-retrieve"),
    path("sync-status", views.SyncStatusView.as_view(), name="sync-status"),
    path("sync-status/resync", views.SyncStatusResyncView.as_view(), name="sync-status-resync"),
]
