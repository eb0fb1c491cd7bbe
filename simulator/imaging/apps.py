from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "simulator.imaging"
    label = "imaging"
