"""Executor plugins (entry-point group ``tinymoo.executors``)."""
