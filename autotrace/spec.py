"""The declarations an instrumentation is made of.

A spec file (one per library, in instrumentations/) builds one `Instrumentation` named
`SPEC`. It is imported at interpreter startup to learn which modules to watch, so it
imports nothing but this module at its top: the shared span builders it names in
`Wrapper(...)` are imported only when the target library is.
"""

__all__ = ["Instrumentation", "Patch", "Wrapper"]


class Wrapper:
    """A shared span builder, named by path, and the options it is built with.

    `Wrapper("_http.client", describe=...)` becomes
    `autotrace.instrumentations._http.client(describe=...)` when the patch is applied;
    that call returns an `Interceptor` (see patching.py).
    """

    __slots__ = ("builder", "options")

    def __init__(self, builder, **options):
        self.builder = builder
        self.options = options

    def build(self, instrumentation_name):
        from importlib import import_module
        module_name, _, function = self.builder.rpartition(".")
        module = import_module("autotrace.instrumentations." + module_name)
        return getattr(module, function)(instrumentation=instrumentation_name, **self.options)

    def __repr__(self):
        return "Wrapper(%r)" % self.builder


class Patch:
    """Wrap `attribute` (a dotted path such as "Session.send") inside `module`.

    `plain=True`: the target is a method defined with `def` on a per-request path; it
    is replaced by a plain function running the same interceptor instead of a wrapt
    proxy (a few microseconds less per call; see patching._plain_method). Anything
    else found there (a builtin, a classmethod, an async builder) gets the proxy.
    """

    __slots__ = ("module", "attribute", "wrapper", "plain")

    def __init__(self, module, attribute, wrapper, plain=False):
        self.module = module
        self.attribute = attribute
        self.wrapper = wrapper
        self.plain = plain

    def __repr__(self):
        return "Patch(%s:%s)" % (self.module, self.attribute)


class Instrumentation:
    """Everything the core needs to know about one library.

    name          lowercase identifier; env vars (AUTOTRACE_INSTRUMENT_<NAME>), doctor rows
                  and tests derive from it
    modules       importing any of these applies the patches
    distribution  the installed distribution whose version is checked; a tuple of names
                  when one library ships under several (("psycopg2", "psycopg2-binary")):
                  the first one installed is checked
    supported     version range such as ">=2.20,<3" (empty: any version)
    patches       the list of Patch objects, applied and reverted as a whole
    requires      modules that must also be imported first (optional). The standard
                  library's context instrumentations name "opentelemetry.trace": until it
                  is imported no span can exist, and patching earlier would import wrapt
                  (~75 ms) into every app that merely imports threading or logging.
    """

    __slots__ = ("name", "modules", "distribution", "supported", "patches", "description", "requires")

    def __init__(self, name, modules, distribution, supported, patches, description="", requires=()):
        self.name = name
        self.modules = tuple(modules)
        self.requires = tuple(requires)
        self.distribution = distribution
        self.supported = supported
        self.patches = tuple(patches)
        self.description = description

    def __repr__(self):
        return "Instrumentation(%r)" % self.name
