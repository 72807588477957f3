"""The suite runs on the package's tables and no user's configuration: a developer's `dlws knowledge update` cache
(~/.cache/dlws) or mirrors file (~/.config/dlws/mirrors) must not change what the tests see. Set before any test
module imports dlws, and inherited by the commands the tests run."""

import os
import tempfile

_HOME = tempfile.mkdtemp(prefix="dlws-tests-")
os.environ["DLWS_CACHE_DIR"] = os.path.join(_HOME, "cache")
os.environ["DLWS_CONFIG_DIR"] = os.path.join(_HOME, "config")
os.environ.pop("DLWS_KNOWLEDGE_DIR", None)
