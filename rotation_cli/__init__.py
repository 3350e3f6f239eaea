"""``rotation``: the operator's command line for the rotation suite (AWS or the local sandbox)."""
