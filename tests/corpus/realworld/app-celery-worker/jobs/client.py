"""Queues add(a, b) like a web process would, and waits for the worker's result."""

import sys

from jobs import add

if __name__ == "__main__":
    a, b = (int(x) for x in sys.argv[1:3])
    print(add.delay(a, b).get(timeout=60))
