"""The dashboard login page: Django's LoginView, answering 429 with Retry-After while the login
throttle holds. The throttle itself (counting failures, refusing during a lock) is in the
authentication backend (accounts.auth_backends), so the Django admin's login obeys it too."""

from django.contrib.auth import views as auth_views

from .login_throttle import client_ip, login_lock_check


class ThrottledLoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        lock = login_lock_check(username=request.POST.get("username", ""), ip=client_ip(request))
        if lock is not None:
            return self._locked(lock)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        # The backend counted this failure; if it was the last one allowed, say so now.
        lock = login_lock_check(username=self.request.POST.get("username", ""), ip=client_ip(self.request))
        if lock is not None:
            return self._locked(lock, form=form)
        return super().form_invalid(form)

    def _locked(self, lock, *, form=None):
        if form is None:  # unbound: nothing may authenticate while locked
            form = self.get_form_class()(
                self.request, initial={"username": self.request.POST.get("username", "")}
            )
        response = self.render_to_response(self.get_context_data(form=form, lockout=lock.message))
        response.status_code = 429
        response["Retry-After"] = str(lock.retry_after)
        return response
