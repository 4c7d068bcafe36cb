"""Dataset plugins (entry-point group ``tinymoo.datasets``)."""
