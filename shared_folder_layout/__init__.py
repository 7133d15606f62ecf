"""The one definition of the shared folder's layout, its creation and its permissions."""
