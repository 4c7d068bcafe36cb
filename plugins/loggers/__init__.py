"""Logger plugins (entry-point group ``tinymoo.loggers``)."""
