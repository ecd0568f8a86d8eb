"""Store dashboard pages, mounted at /store/."""

from django.urls import path

from . import staff_views, views

app_name = "dashboard"
store = "<slug:partner>/<slug:site>/"
order = store + "orders/<int:order_id>/"
urlpatterns = [
    path("", views.store_index, name="index"),
    # The retailer's own page (managers): stores and staff. A store page has two slugs.
    path("<slug:partner>/", staff_views.retailer_home, name="retailer"),
    path("<slug:partner>/staff/add/", staff_views.associate_add, name="associate-add"),
    path("<slug:partner>/staff/<int:member_id>/stores/", staff_views.associate_stores, name="associate-stores"),
    path("<slug:partner>/staff/<int:member_id>/remove/", staff_views.associate_remove, name="associate-remove"),
    path(store, views.store_home, name="home"),
    path(store + "orders/", views.order_search, name="search"),
    path(store + "orders/new/", views.order_new, name="order-new"),
    path(store + "orders/import/", views.orders_import, name="import"),
    path(store + "orders/import/template.csv", views.import_template, name="import-template"),
    path(order, views.order_detail, name="order-detail"),
    path(order + "load/", views.order_load, name="order-load"),
    path(order + "open/", views.door_open, name="door-open"),
    path(order + "closed/", views.door_closed, name="door-closed"),
    path(order + "problem/", views.door_problem, name="door-problem"),
    path(order + "notify/", views.order_notify_again, name="order-notify"),
    path(order + "extend/", views.order_extend, name="order-extend"),
    path(order + "unload/", views.order_unload, name="order-unload"),
    path(store + "kpis/", views.store_kpi_page, name="kpis"),
    path(store + "kpis.csv", views.store_kpi_csv, name="kpis-csv"),
]
