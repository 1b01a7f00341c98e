"""Attribute names, in one place (OpenTelemetry stable semantic conventions)."""

# HTTP
HTTP_REQUEST_METHOD = "http.request.method"
HTTP_REQUEST_METHOD_ORIGINAL = "http.request.method_original"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
HTTP_ROUTE = "http.route"
URL_FULL = "url.full"
URL_PATH = "url.path"
URL_QUERY = "url.query"
URL_SCHEME = "url.scheme"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
CLIENT_ADDRESS = "client.address"
USER_AGENT_ORIGINAL = "user_agent.original"
NETWORK_PROTOCOL_VERSION = "network.protocol.version"
ERROR_TYPE = "error.type"
HTTP_REQUEST_HEADER_PREFIX = "http.request.header."     # + lowercase header name; value: list of strings
HTTP_RESPONSE_HEADER_PREFIX = "http.response.header."

# Databases
DB_SYSTEM_NAME = "db.system.name"
DB_NAMESPACE = "db.namespace"
DB_QUERY_TEXT = "db.query.text"
DB_OPERATION_NAME = "db.operation.name"
DB_COLLECTION_NAME = "db.collection.name"
DB_RESPONSE_STATUS_CODE = "db.response.status_code"
DB_OPERATION_BATCH_SIZE = "db.operation.batch.size"

# Methods the HTTP conventions know; anything else is reported as _OTHER.
KNOWN_HTTP_METHODS = frozenset(
    ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"))

# Code location (stable)
CODE_FUNCTION_NAME = "code.function.name"
CODE_FILE_PATH = "code.file.path"
CODE_LINE_NUMBER = "code.line.number"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"

# Log records recorded as span events (AUTOTRACE_LOGS_AS_EVENTS). OpenTelemetry has no
# convention for this; the names follow its log data model (SeverityText, Body) and
# the logger name as in OpenTelemetry's logging bridge.
LOG_EVENT_NAME = "log"
LOG_SEVERITY_TEXT = "log.severity_text"
LOG_MESSAGE = "log.message"
LOG_LOGGER_NAME = "log.logger.name"
