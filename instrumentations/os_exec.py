"""os.exec*, os.spawn* and os.posix_spawn*: the new program continues the trace.

Every os.exec*/os.spawn* function ends in os.execv or os.execve (looked up in the os
module when called), so patching those two covers the family."""

from autotrace.spec import Instrumentation, Patch, Wrapper

_env_third = Wrapper("_context.env_argument", position=2)   # execve(path, argv, env), posix_spawn(path, argv, env)

SPEC = Instrumentation(
    name="os_exec",
    modules=("os",),
    requires=("opentelemetry.trace",),   # os is imported at startup; no span can exist before
    distribution="",   # part of the standard library
    supported="",
    description="Programs started with os.exec*, os.spawn*, os.posix_spawn* continue the trace",
    patches=(
        Patch("os", "execv", Wrapper("_context.environ_for_exec")),
        Patch("os", "execve", _env_third),
        Patch("os", "posix_spawn", _env_third),
        Patch("os", "posix_spawnp", _env_third),
    ),
)
