from django.db import models


class Visit(models.Model):
    path = models.CharField(max_length=200)
    at = models.DateTimeField(auto_now_add=True)
