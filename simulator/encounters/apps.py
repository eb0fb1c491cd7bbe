from django.apps import AppConfig


class EncountersConfig(AppConfig):
    name = "simulator.encounters"
    label = "encounters"
