"""Hardware-target plugins (entry-point group ``tinymoo.hw``); boards are YAML files in conf/hw."""
