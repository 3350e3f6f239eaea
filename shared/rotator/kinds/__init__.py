"""One module per kind of secret; the module name is the kind's ``KIND`` and its functions/ folder."""
