from django.urls import path

from .views import login

app_name = "accounts"

urlpatterns = [
    path("", login.login, name="login"),
    path("logout/", login.logout, name="logout"),
    path("forgot/", login.forgot, name="recovery"),
    path("signup/", login.signup_closed, name="signup"),
]
