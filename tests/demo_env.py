"""Loaded with `-p tests.demo_env` (pyproject addopts) before pytest-django imports the settings.

The suite runs the settings of the local demo (DEMO=true: DEBUG on at import, so plain static
files and no HTTPS redirect; pytest-django still turns DEBUG off for each test). The production
defaults are tested in subprocesses without these variables (tests/test_project.py,
tests/security/).
"""

import os

os.environ.setdefault("DEMO", "true")
