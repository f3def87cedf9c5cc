"""A plugin module that fails to import (its entry point is ``broken-name``)."""

raise ImportError("bt_test_plugins.broken is broken on purpose")
