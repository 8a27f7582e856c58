from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from . import views

utility_pages = (
    [
        path("terms/", views.terms, name="terms"),
        path("privacy/", views.privacy, name="privacy"),
        path("faq/", views.faq, name="faq"),
        path("offices/", views.offices, name="offices"),
        path("inquiry/", views.inquiry, name="inquiry"),
        path("guide/", views.guide, name="guide"),
    ],
    "portal",
)

handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"

admin.site.site_header = "上下水道ポータル 管理画面"
admin.site.site_title = "上下水道ポータル 管理画面"
admin.site.index_title = "管理メニュー"

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("<slug:utility_slug>/", include(utility_pages)),
    path("<slug:utility_slug>/", include("accounts.urls")),
    path("<slug:utility_slug>/", include("billing.urls")),
    path("<slug:utility_slug>/", include("moving.urls")),
]
