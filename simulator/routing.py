"""Every websocket route in one place."""

from django.urls import path

from simulator.imaging.consumers import CasePreviewConsumer, EncounterImagingConsumer

websocket_urlpatterns = [
    path("ws/encounters/<int:encounter_id>/imaging/", EncounterImagingConsumer.as_asgi()),
    path("ws/cases/<int:case_id>/preview/", CasePreviewConsumer.as_asgi()),
]
