"""Agent plugins (entry-point group ``tinymoo.agents``)."""
