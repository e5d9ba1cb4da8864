celery_app = None
