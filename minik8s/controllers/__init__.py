"""The controller manager's controllers, each a reconcile loop (see :mod:`.controller`)."""
