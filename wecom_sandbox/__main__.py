"""`python -m wecom_sandbox --host 127.0.0.1 --port 8090 [--state FILE]`.

Prints `wecom sandbox listening on http://HOST:PORT` once it accepts connections. SIGTERM
or SIGINT stops it, saving the state to --state first when given.
"""

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from wecom_sandbox import persistence
from wecom_sandbox.sandbox import Sandbox
from wecom_sandbox.server import SandboxHTTPServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wecom_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument(
        "--state", help="load this state file at start (if it exists), save it on stop"
    )
    parser.add_argument("--callback-workers", type=int, default=8)
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="wecom-sandbox %(levelname)s %(message)s")

    sandbox = Sandbox(callback_workers=args.callback_workers)
    if args.state and Path(args.state).is_file():
        loaded = persistence.load(sandbox, args.state)
        logging.info("loaded %s", loaded)
    server = SandboxHTTPServer((args.host, args.port), sandbox, verbose=args.verbose)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    # serve_forever runs in a thread so the main thread can wait for a signal and then
    # call shutdown(), which would deadlock if called from the serving thread.
    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    host, port = server.server_address[:2]
    print(f"wecom sandbox listening on http://{host!s}:{port}", flush=True)
    stop.wait()
    server.shutdown()
    server.server_close()
    sandbox.dispatcher.shutdown()
    if args.state:
        saved = persistence.save(sandbox, args.state)
        logging.info("saved %s", saved)
    return 0


if __name__ == "__main__":
    sys.exit(main())
