"""Model plugins (entry-point group ``tinymoo.models``)."""
