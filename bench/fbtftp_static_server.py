#!/usr/bin/python3
"""Serve a folder read-only over TFTP with Facebook's fbtftp (Debian's python3-fbtftp).

fbtftp is a framework, not a server: this is the smallest static-folder server built on it, as
the benchmark's third comparison point. fbtftp forks one process per request (BaseHandler is a
multiprocessing.Process) and supports blksize, tsize and timeout but not windowsize.

    /usr/bin/python3 bench/fbtftp_static_server.py --address 127.0.0.1 --port 6971 --root /srv/tftp
"""
import argparse
import logging
import os
import signal
import sys

from fbtftp.base_handler import BaseHandler, ResponseData
from fbtftp.base_server import BaseServer


class FileResponseData(ResponseData):
    def __init__(self, path):
        self._size = os.stat(path).st_size
        self._reader = open(path, "rb")

    def read(self, n):
        return self._reader.read(n)

    def size(self):
        return self._size

    def close(self):
        self._reader.close()


class StaticHandler(BaseHandler):
    def __init__(self, server_addr, peer, path, options, root, stats_callback):
        self._root = root
        super().__init__(server_addr, peer, path, options, stats_callback)

    def get_response_data(self):
        # Confine requests to the root, as tftpd --secure does.
        full = os.path.realpath(os.path.join(self._root, self._path.lstrip("/")))
        if full != self._root and not full.startswith(self._root + os.sep):
            raise FileNotFoundError(self._path)
        return FileResponseData(full)


class StaticServer(BaseServer):
    def __init__(self, address, port, retries, timeout, root):
        self._root = os.path.realpath(root)
        super().__init__(address, port, retries, timeout)

    def get_handler(self, server_addr, peer, path, options):
        return StaticHandler(server_addr, peer, path, options, self._root, lambda stats: None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--retries", type=int, default=5)
    parser.add_argument("--timeout", type=int, default=2, help="seconds before a resend")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    server = StaticServer(args.address, args.port, args.retries, args.timeout, args.root)
    # BaseServer.close() only sets a flag that its select loop may not look at for a while: leave
    # at once on SIGTERM instead (the forked per-transfer processes are daemonic).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("fbtftp listening on %s:%d" % (args.address, args.port), file=sys.stderr, flush=True)
    server.run()


if __name__ == "__main__":
    main()
