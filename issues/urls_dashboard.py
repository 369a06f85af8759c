from django.urls import path

from . import views_dashboard as views
from . import views_panels as panels

urlpatterns = [
    path("issues", views.issue_list, name="dash-issues"),
    path("issues/<uuid:issue_id>", views.issue_detail, name="dash-issue"),
    path("accounts/<uuid:account_id>/issues", panels.account_issues, name="dash-account-issues"),
    path("issues/<uuid:issue_id>/mute", views.issue_mute, name="dash-issue-mute"),
    path("webhooks", views.webhook_list, name="dash-webhooks"),
    path("webhooks/<uuid:endpoint_id>", views.webhook_detail, name="dash-webhook"),
    path("webhooks/<uuid:endpoint_id>/enabled", views.webhook_toggle, name="dash-webhook-toggle"),
    path("webhooks/<uuid:endpoint_id>/rotate-key", views.webhook_rotate_key, name="dash-webhook-rotate"),
    path("webhooks/<uuid:endpoint_id>/test", views.webhook_send_test, name="dash-webhook-test"),
    path("webhooks/<uuid:endpoint_id>/delete", views.webhook_delete, name="dash-webhook-delete"),
    path(
        "webhooks/notices/<int:notice_id>/acknowledge",
        views.webhook_notice_acknowledge,
        name="dash-webhook-notice-ack",
    ),
    path("webhooks/deliveries/<uuid:delivery_id>", views.delivery_detail, name="dash-delivery"),
    path(
        "webhooks/deliveries/<uuid:delivery_id>/redeliver",
        views.delivery_redeliver,
        name="dash-delivery-redeliver",
    ),
]
