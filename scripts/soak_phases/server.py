"""The server under test: one sabre-server child per phase, and its /metrics parsed."""
import http.client
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections import Counter

from .client import call
from .common import EXIT_SLACK_S, HOST, SHUTDOWN_GRACE_S

START_TIMEOUT_S = 120  # loading the model and binding the port


class Server:
    """One sabre-server child in its own session (so Ctrl-C reaches only us), on a free local port.

    `tally` counts every answer this script got from it by status ("disconnected" for a stream we
    closed, "error" for a request that failed at the socket), to compare with its /metrics."""

    live = []  # started and not yet reaped: stopped at exit

    def __init__(self, args, name, flags=(), env=None, log_to_full=False):
        self.name = name
        self.port = free_port()
        self.log_path = "/dev/full" if log_to_full else os.path.join(args.workdir, f"{name}.log")
        self.tally = Counter()
        self.tally_lock = threading.Lock()
        command = [args.server, "--model", args.model, "--host", HOST, "--port", str(self.port), *flags,
                   *shlex.split(args.server_args)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **(env or {})}, start_new_session=True)
        Server.live.append(self)
        print(f"  server {name}: pid {self.proc.pid}, port {self.port}, log {self.log_path}", flush=True)
        self.wait_ready()

    def count(self, key):
        """Counts one answer (or failure) the clients saw."""
        with self.tally_lock:
            self.tally[key] += 1

    def counts(self):
        """A copy of the tally, taken before a /metrics scrape that is to be compared with it."""
        with self.tally_lock:
            return Counter(self.tally)

    def wait_ready(self):
        """Polls /health until it answers 200: the port can only be known to listen that way."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.name} exited with {self.proc.returncode} at start-up\n"
                                   + self.log_tail())
            try:
                if call(self, "GET", "/health", timeout=5).status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server {self.name} did not answer /health within {START_TIMEOUT_S} s")

    def rss_mib(self):
        """VmRSS from /proc, in MiB; None once the process is gone."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            return None
        return None

    def metrics(self):
        """Scrapes /metrics (the scrape itself is counted by the server only after it is answered)."""
        reply = call(self, "GET", "/metrics", timeout=30)
        if reply.status != 200:
            raise RuntimeError(f"/metrics answered {reply.status}")
        return parse_metrics(reply.body.decode())

    def wait_exit(self, timeout):
        """The exit status, or None if it is still running after `timeout` seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM, then SIGKILL after the grace: whatever a phase left running must not outlive us."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(SHUTDOWN_GRACE_S + EXIT_SLACK_S + 5) is None:
                self.proc.kill()
                self.proc.wait()
        if self in Server.live:
            Server.live.remove(self)

    def log_tail(self, lines=15):
        """The end of the server's log, to show next to a failure."""
        if self.log_path == "/dev/full":
            return "  (log went to /dev/full)"
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join("    | " + line for line in log.readlines()[-lines:])
        except OSError as e:
            return f"  (log unreadable: {e})"


def stop_all_servers():
    """Stops every server still running (at exit, Ctrl-C or a failed phase)."""
    for server in list(Server.live):
        server.stop()


def free_port():
    """A port the kernel just handed out: free unless someone grabs it in the next instant."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def parse_metrics(text):
    """Prometheus text -> {"name{other labels}": value}, the model_name label dropped."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        key = re.sub(r'model_name="[^"]*",?', "", key).replace("{}", "")
        values[key] = float(value)
    return values


def http_statuses(metrics):
    """sabre:http_requests_total by status, as ints."""
    out = Counter()
    for key, value in metrics.items():
        match = re.fullmatch(r'sabre:http_requests_total\{status="(\d+)"\}', key)
        if match:
            out[int(match.group(1))] = int(value)
    return out
