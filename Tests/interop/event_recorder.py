"""What the python-socketio test clients share: the events a client received, by name, and a
wait for one of them."""
import threading
import time


class EventRecorder:
    """Collects received events (their first argument) by name; thread-safe, since
    python-socketio's sync client calls handlers on its own threads."""

    def __init__(self):
        self.events: dict[str, list] = {}
        self.cond = threading.Condition()

    def _recorder(self, name):
        def record(data, *offset):   # logged events carry their recovery offset as a last argument
            with self.cond:
                self.events.setdefault(name, []).append(data)
                self.cond.notify_all()
        return record

    def wait_for(self, name, predicate=lambda d: True, timeout=5.0):
        """The first `name` event matching `predicate`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for item in self.events.get(name, []):
                    if predicate(item):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {name} event matching within {timeout}s; got {self.events.get(name)}")
                self.cond.wait(remaining)
