"""Redis credentials: two live passwords during the overlap, on every node, on every kind of Redis.

The path is chosen once per invocation from the secret (``RedisKind.path_for``):

* a self-managed server's ACL user, changed through an admin secret (``acl_admin``) or by the user itself
  (``acl_self``), on every node (Redis does not replicate ACL changes), persisted;
* an ElastiCache RBAC user or a MemoryDB user, through the service's API (``managed_user``);
* an ElastiCache replication group's AUTH token (``auth_token``).

Each path keeps the current and the pending password live (``rotator.schemes.overlap``), proves the secret owns
the credential before anything privileged acts (``rotator.schemes.ownership``), and talks to its target only
through an adapter: a Redis node (``node``), the ElastiCache API (``elasticache``), the MemoryDB API
(``memorydb``).
"""
