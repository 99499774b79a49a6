"""What the modules of the soak share: the stop flag, the address and the time limits."""
import threading

STOPPING = threading.Event()  # set on Ctrl-C or SIGTERM: every load loop ends at its next request
HOST = "127.0.0.1"

REQUEST_TIMEOUT_S = 120  # one socket operation; a CPU server under a burst answers well within it
SETTLE_TIMEOUT_S = 30  # for the KV cache and the queues to empty after the load stops
SHUTDOWN_GRACE_S = 10  # examples/server/main.cpp: kShutdownGrace, from the signal to the exit
EXIT_SLACK_S = 3  # process start-up of the signal handling and exit on a loaded 2-core machine
