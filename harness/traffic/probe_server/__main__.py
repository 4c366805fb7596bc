"""Runs the probe server: `/usr/bin/python3 harness/traffic/probe_server` (or `python3 -m probe_server`
from harness/traffic). Python runs this file with the package folder first on sys.path; the package
is imported from its parent instead, so its modules import each other relative to the package."""

import os
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from probe_server.loop import run  # noqa: E402

run()
