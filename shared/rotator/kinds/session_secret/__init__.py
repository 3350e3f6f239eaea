"""Random symmetric secrets: session keys, encryption keys.

Two shapes are rotated:

* a plain string key (hex, base64, base64url or alphanumeric, detected), which
  rotates to a new key of the same encoding and length, never below 256 bits;
* a JSON keyring ``{"current": "<key>", "previous": ["<older>", ...], ...}``,
  which rotates ``current`` and keeps the ``ROTATION_RETAINED_KEYS`` newest old
  keys (default 1) in ``previous`` so consumers can still verify sessions and
  decrypt data made with them. Every other field is preserved.

There is no target system: setSecret does nothing, testSecret checks the value. One path.
"""
