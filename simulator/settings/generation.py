"""The generator: where jobs run and how many threads it may take."""

from inference.weights_info import DEFAULT_GUIDANCE

from .env import env_int, env_str

# inprocess: a one-thread worker inside the web process (embedded default).
# celery: jobs go to Celery workers over REDIS_URL / CELERY_BROKER_URL (scale-out).
# off: jobs stay queued (tests that drive the runner by hand).
GENERATION_WORKER = env_str("RADSIM_GENERATION_WORKER", "celery" if env_str("REDIS_URL") else "inprocess")
if GENERATION_WORKER not in ("inprocess", "celery", "off"):
    raise ValueError(f"RADSIM_GENERATION_WORKER={GENERATION_WORKER!r}: use inprocess, celery or off")
# The web server and the generator share two cores: one generator thread stops them fighting.
GENERATION_THREADS = env_int("RADSIM_GENERATION_THREADS", 1)
GENERATION_WEIGHTS = env_str("RADSIM_WEIGHTS", "")  # empty = the shipped default weights
GENERATION_STEPS = env_int("RADSIM_GENERATION_STEPS", 20)
GENERATION_SAMPLER = env_str("RADSIM_GENERATION_SAMPLER", "dpmpp2m")
GENERATION_GUIDANCE = float(env_str("RADSIM_GENERATION_GUIDANCE", str(DEFAULT_GUIDANCE)))
