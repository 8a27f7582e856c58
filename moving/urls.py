from django.urls import path

import billing.urls  # noqa: F401 - registers the contract_number converter used below

from . import views

app_name = "moving"

urlpatterns = [
    path("moving/", views.index, name="index"),
    path("moving/out/", views.move_out, name="move_out"),
    path("moving/out/<contract_number:number>/", views.member_move_out, name="member_move_out"),
    path("moving/in/", views.move_in, name="move_in"),
    path("moving/holder/", views.name_change, name="name_change"),
    path(
        "moving/holder/<contract_number:number>/",
        views.member_name_change,
        name="member_name_change",
    ),
    path("moving/confirm/", views.confirm, name="confirm"),
    path("moving/done/", views.done, name="done"),
    path("moving/status/<str:token>/", views.status, name="status"),
]
