"""The library's own version (the file format's version is :data:`strfh5.layout.FORMAT_VERSION`)."""

__version__ = "0.1.0"
