import sqlite3

from django.http import HttpResponse
from django.urls import include, path


def order(request, order_id):
    # One query of its own: its span must be a child of the request's.
    total = sqlite3.connect(":memory:").execute("SELECT ? * 10", (order_id,)).fetchone()[0]
    return HttpResponse("order %d: %d" % (order_id, total))


urlpatterns = [
    path("shop/", include([path("orders/<int:order_id>/", order)])),
]
