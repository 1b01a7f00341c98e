"""`autotrace view`: a local web viewer over the trace store, with OTLP/HTTP ingest."""
