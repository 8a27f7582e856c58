from django.urls import path

from .views import language, login, profile, recovery, signup

app_name = "accounts"

urlpatterns = [
    path("", login.login, name="login"),
    path("logout/", login.logout, name="logout"),
    path("language/", language.set_language, name="set_language"),
    path("recovery/", recovery.recovery, name="recovery"),
    path("recovery/question/", recovery.recovery_question, name="recovery_question"),
    path("recovery/sent/", recovery.recovery_sent, name="recovery_sent"),
    path("recovery/code/", recovery.recovery_code, name="recovery_code"),
    path("recovery/link/<str:token>/", recovery.recovery_link, name="recovery_link"),
    path("recovery/password/", recovery.recovery_password, name="recovery_password"),
    path("recovery/done/", recovery.recovery_done, name="recovery_done"),
    path("account/", profile.profile, name="profile"),
    path("account/email/", profile.profile_email, name="profile_email"),
    path("account/email/sent/", profile.profile_email_sent, name="profile_email_sent"),
    path("account/email/code/", profile.profile_email_code, name="profile_email_code"),
    path("account/email/link/<str:token>/", profile.profile_email_link, name="profile_email_link"),
    path("account/email/confirm/", profile.profile_email_confirm, name="profile_email_confirm"),
    path("account/password/", profile.profile_password, name="profile_password"),
    path("account/secret-question/", profile.profile_secret, name="profile_secret"),
    path("account/tax/", profile.profile_tax, name="profile_tax"),
    path("account/mail/", profile.profile_mail, name="profile_mail"),
    path("account/name/", profile.profile_name, name="profile_name"),
    path("account/contracts/add/", profile.profile_contract_add, name="profile_contract_add"),
    path("account/withdraw/", profile.profile_withdraw, name="profile_withdraw"),
    path(
        "account/withdraw/confirm/",
        profile.profile_withdraw_confirm,
        name="profile_withdraw_confirm",
    ),
    path("account/withdrawn/", profile.profile_withdrawn, name="profile_withdrawn"),
    path("signup/", signup.signup, name="signup"),
    path("signup/sent/", signup.signup_sent, name="signup_sent"),
    path("signup/link/<str:token>/", signup.signup_link, name="signup_link"),
    path("signup/code/", signup.signup_code, name="signup_code"),
    path("signup/code/resend/", signup.signup_code_resend, name="signup_code_resend"),
    path("signup/details/", signup.signup_details, name="signup_details"),
    path("signup/details/back/", signup.signup_back, name="signup_back"),
    path("signup/confirm/", signup.signup_confirm, name="signup_confirm"),
    path("signup/complete/", signup.signup_complete, name="signup_complete"),
    path("signup/done/", signup.signup_done, name="signup_done"),
]
