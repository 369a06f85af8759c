from django.urls import path

from . import views
from .serializers import API_MODELS

# Mounted under /api/<category>/v1/ by config.urls. Each registered common model gets its list
# and retrieve endpoints (the views check the category).
urlpatterns = []
for _api in API_MODELS.values():
    _list, _retrieve = views.common_model_views(_api)
    _path = _api.model.path
    urlpatterns += [
        path(_path, _list.as_view(), name=f"{_path}-list"),
        path(f"{_path}/<uuid:object_id>", _retrieve.as_view(), name=f"{_path}-retrieve"),
    ]
urlpatterns += [
    path("sync-status", views.SyncStatusView.as_view(), name="sync-status"),
    path("sync-status/resync", views.SyncStatusResyncView.as_view(), name="sync-status-resync"),
]
