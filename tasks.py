"""Entry point for `inv`.

Invoke's loader prefers this file over the tasks/ package and registers it as the
module `tasks`, which hides the package. Hand the name back to the package and
re-export its namespace, so `inv` and pytest load the very same code.
"""

import importlib
import sys

sys.modules.pop(__name__, None)
ns = importlib.import_module("tasks").ns
