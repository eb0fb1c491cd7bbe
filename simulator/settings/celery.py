"""Celery: used only when the generation worker is `celery` (scale-out)."""

from .env import env_bool, env_str

_redis = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", _redis or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-job leaves it to be redelivered
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # one GPU job at a time per worker process
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_DEFAULT_QUEUE = env_str("RADSIM_CELERY_QUEUE", "generate")
