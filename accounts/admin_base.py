"""The base of every app's admin classes for rows that services write: the admin never adds
one, and changes or deletes one only where the model's admin says so. One place says what the
admin may do with such rows; each app's admin module picks what its models allow."""

from django.contrib import admin


class ServiceWrittenAdmin(admin.ModelAdmin):
    """No adding (services create these rows). `editable`: the admin may change a row (its
    actions and editable fields); `deletable`: it may delete one. Both off: read-only."""

    editable = False
    deletable = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return self.editable and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.deletable and super().has_delete_permission(request, obj)
