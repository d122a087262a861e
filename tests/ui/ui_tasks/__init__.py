"""The auto tasks of the UI cases that declare `tasks "ui_tasks"`."""
