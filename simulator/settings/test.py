"""Test overrides only. The generator runs only when a test drives it (GENERATION_WORKER=off)."""

import tempfile
from pathlib import Path

from simulator.settings import *  # noqa: F401,F403

MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="radsim-test-media-"))
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
GENERATION_WORKER = "off"
GENERATION_STEPS = 4  # short sampler runs; the full 20-step path runs in the browser journey
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
SERVE_STATIC = False
