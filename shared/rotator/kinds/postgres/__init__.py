"""PostgreSQL credentials: single user or alternating users, zero downtime, ownership proven first.

Secrets are a connection URL (``postgresql[+driver]://`` or ``postgres://``, every query parameter kept) or
RDS-style JSON (``engine``, ``host``, ``port``, ``username``, ``password``, ``dbname``, optional ``masterarn``
and ``ssl``; every other field kept), the format AWS's own rotation functions read.

The path is chosen once per invocation from the secret: no master secret (``masterarn`` in the secret, or
``ROTATION_POSTGRES_MASTER_SECRET_ARN``) is a single user (``single_user``), a master is alternating users
(``alternating_users``). Both talk to PostgreSQL only through the server adapter (``server``); a secret on a
read replica or an Aurora reader is changed on its writer, found through the RDS API (``rds``, ``master``).
"""
