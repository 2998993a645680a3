from django.apps import AppConfig


class RepliesConfig(AppConfig):
    # The reply engine: queueing, the reply task and its in-order runner, locks, the sweeper,
    # building the responder and the models it loads.
    name = "chatbot.replies"
    label = "replies"
    verbose_name = "Replies"

    def ready(self) -> None:
        # Django's way of connecting receivers: apps.py is imported before any model can be, so the
        # module that uses the models is imported here, once the registry is ready.
        from chatbot.replies import receivers  # noqa: F401
