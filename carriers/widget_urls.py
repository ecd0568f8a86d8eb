"""The checkout locker picker, mounted at /widget/."""


app_name = "widget"
urlpatterns: list = []
