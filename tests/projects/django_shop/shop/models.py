"""The shop's model after the contract step: ``email`` is gone, ``nickname`` replaces it."""

from django.db import models


class Customer(models.Model):
    name = models.TextField()
    nickname = models.TextField(null=True)
