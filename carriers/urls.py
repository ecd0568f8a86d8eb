"""Partner portal pages, mounted at /partners/."""


app_name = "portal"
urlpatterns: list = []
