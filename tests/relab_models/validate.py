"""Validates JSON on stdin as the named relab_rpi_cam_models model; exits 1 with pydantic's
errors when it does not validate."""

import importlib
import sys

module, name = sys.argv[1].rsplit(".", 1)
model = getattr(importlib.import_module(f"relab_rpi_cam_models.{module}"), name)
model.model_validate_json(sys.stdin.read())
print(f"valid {sys.argv[1]}")
