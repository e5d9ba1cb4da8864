from django.http import JsonResponse
from django.urls import path

from visits.models import Visit


def health(request):
    Visit.objects.create(path=request.path)
    return JsonResponse({"status": "ok", "visits": Visit.objects.count()})


urlpatterns = [path("health/", health)]
