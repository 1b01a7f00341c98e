"""The Resource: who produced the spans (service, process, runtime, autotrace itself).

Built from Settings only; the SDK's own detectors are not used because they read the
environment a second time.
"""

import os
import platform
import sys

__all__ = ["build_resource", "derive_service_name", "service_name"]


def build_resource(settings):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.version import __version__ as sdk_version

    from autotrace import __version__

    attributes = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": sdk_version,
        "telemetry.distro.name": "autotrace",
        "telemetry.distro.version": __version__,
        "process.executable.path": sys.executable,
        "process.runtime.name": sys.implementation.name,
        "process.runtime.version": platform.python_version(),
        "process.runtime.description": sys.version,
    }
    attributes.update(settings.resource_attributes)
    attributes["service.name"] = service_name(settings)
    return Resource(attributes)


def service_name(settings):
    """The service.name spans carry (also put on log records)."""
    return (settings.service_name or settings.resource_attributes.get("service.name")
            or derive_service_name())


def derive_service_name(argv=None, main_module=None):
    """A service name from how the process was started; never "unknown_service".

    python -m pkg.app -> "pkg.app"; python app.py -> "app"; gunicorn ... -> "gunicorn";
    python -c ... or an interactive session -> "python".
    """
    if main_module is None:
        main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    name = getattr(spec, "name", None)
    if name:
        return name[: -len(".__main__")] if name.endswith(".__main__") else name
    argv = sys.argv if argv is None else argv
    first = argv[0] if argv else ""
    if first in ("", "-c", "-", "-m"):
        return "python"
    base = os.path.basename(first.rstrip("/"))
    if base == "__main__.py":
        base = os.path.basename(os.path.dirname(os.path.abspath(first))) or "python"
    for suffix in (".py", ".pyw", ".pyz"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base or "python"
