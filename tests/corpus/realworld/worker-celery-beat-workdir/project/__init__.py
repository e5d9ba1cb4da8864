from celery import Celery
app = Celery("project", broker="redis://redis:6379/0")
app.conf.beat_schedule = {"tick": {"task": "project.tick", "schedule": 60.0}}
