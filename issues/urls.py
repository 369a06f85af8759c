from django.urls import path

from . import views

# Mounted under /api/<category>/v1/ by config.urls.
urlpatterns = [
    path("issues", views.IssueListView.as_view(), name="issues"),
    path("issues/<uuid:issue_id>", views.IssueDetailView.as_view(), name="issue-detail"),
]
