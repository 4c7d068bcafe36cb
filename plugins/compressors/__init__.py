"""Compressor plugins (entry-point group ``tinymoo.compressors``)."""
