"""Config package of tinymoo-plugin-example: each sub-directory is a tinymoo config group (hw/, compressor/).

Registered under the ``tinymoo.configs`` entry point, so tinymoo adds ``pkg://tinymoo_plugin_example.conf`` to
Hydra's config search path.
"""
