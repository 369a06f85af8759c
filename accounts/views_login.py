"""The dashboard login page with throttling (accounts.login_throttle) around Django's LoginView."""

from django.contrib.auth import views as auth_views

from .login_throttle import client_ip, login_failure_record, login_lock_check, login_success_record


class ThrottledLoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        lock = login_lock_check(username=request.POST.get("username", ""), ip=client_ip(request))
        if lock is not None:
            return self._locked(lock)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        login_success_record(username=form.get_user().get_username(), ip=client_ip(self.request))
        return super().form_valid(form)

    def form_invalid(self, form):
        lock = login_failure_record(
            username=self.request.POST.get("username", ""), ip=client_ip(self.request)
        )
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
