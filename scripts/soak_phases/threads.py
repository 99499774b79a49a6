"""Worker threads the main thread can still interrupt with Ctrl-C."""
import threading
import time


def join_all(threads, timeout=None):
    """Joins in short slices: a signal that lands on a worker thread is handled only when the main thread
    runs Python code, so a plain join() would keep Ctrl-C waiting until the phase ends."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for t in threads:
        while t.is_alive() and (deadline is None or time.monotonic() < deadline):
            t.join(0.2)


def wait_event(event, timeout):
    """Event.wait in short slices, for the same reason as join_all."""
    deadline = time.monotonic() + timeout
    while not event.is_set() and time.monotonic() < deadline:
        event.wait(0.2)
    return event.is_set()


def start_threads(target, args_list):
    """Daemon threads (Ctrl-C must not wait for them), started at once."""
    threads = [threading.Thread(target=target, args=a, daemon=True) for a in args_list]
    for t in threads:
        t.start()
    return threads
