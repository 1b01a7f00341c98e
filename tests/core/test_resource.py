import types

from autotrace.config import Settings
from autotrace.resource import build_resource, derive_service_name


def test_service_name_from_the_command():
    plain = types.SimpleNamespace(__spec__=None)
    assert derive_service_name(["/srv/app.py"], plain) == "app"
    assert derive_service_name(["/venv/bin/gunicorn", "app:app"], plain) == "gunicorn"
    assert derive_service_name(["-c"], plain) == "python"
    assert derive_service_name([], plain) == "python"
    assert derive_service_name(["/srv/shop/__main__.py"], plain) == "shop"
    as_module = types.SimpleNamespace(__spec__=types.SimpleNamespace(name="billing.worker"))
    assert derive_service_name(["/x/worker.py"], as_module) == "billing.worker"
    as_package = types.SimpleNamespace(__spec__=types.SimpleNamespace(name="billing.__main__"))
    assert derive_service_name(["/x/__main__.py"], as_package) == "billing"


def test_resource_precedence():
    s = Settings.from_env({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,team=core"})
    attributes = build_resource(s).attributes
    assert attributes["service.name"] == "from-attrs" and attributes["team"] == "core"
    assert attributes["telemetry.distro.name"] == "autotrace"
    s2 = Settings.from_env({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs", "OTEL_SERVICE_NAME": "explicit"})
    assert build_resource(s2).attributes["service.name"] == "explicit"
    assert build_resource(Settings.from_env({})).attributes["service.name"] not in ("", "unknown_service")
