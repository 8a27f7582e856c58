from django.urls import path

from .views import login, signup

app_name = "accounts"

urlpatterns = [
    path("", login.login, name="login"),
    path("logout/", login.logout, name="logout"),
    path("forgot/", login.forgot, name="recovery"),
    path("signup/", signup.signup, name="signup"),
    path("signup/sent/", signup.signup_sent, name="signup_sent"),
    path("signup/link/<str:token>/", signup.signup_link, name="signup_link"),
    path("signup/details/", signup.signup_details, name="signup_details"),
    path("signup/confirm/", signup.signup_confirm, name="signup_confirm"),
    path("signup/complete/", signup.signup_complete, name="signup_complete"),
    path("signup/done/", signup.signup_done, name="signup_done"),
]
