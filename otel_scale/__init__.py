"""otel-scale: benchmark how fast containers scale, with OpenTelemetry startup traces.

The core (`contract`, `timefmt`, `metadata`, `resource`, `startup`) depends on the OpenTelemetry SDK only:
the probe image ships it. Analysis and reporting live in subpackages that the probe never imports.
"""

__version__ = "0.1.0"
