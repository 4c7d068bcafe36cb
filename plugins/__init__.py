"""Built-in tinymoo plugins, one sub-package per group; each module imports only core and its libraries."""
