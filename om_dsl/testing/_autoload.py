"""The module the `pytest11` entry point `om_dsl` names.

It only asks pytest to load the plugin, om_dsl.testing, under its module
name: so `-p om_dsl.testing` or `pytest_plugins = ["om_dsl.testing"]` in a
conftest.py work as well when the entry point has loaded it already (pytest
refuses to register one module under two names). `-p no:om_dsl` turns the
plugin off.
"""

pytest_plugins = ["om_dsl.testing"]
