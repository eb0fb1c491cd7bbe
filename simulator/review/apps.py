from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "simulator.review"
    label = "review"
