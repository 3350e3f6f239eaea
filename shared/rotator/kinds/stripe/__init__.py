"""Stripe secret keys, restricted keys and webhook signing secrets: validated manual rotation.

Stripe has no generally available API to create or roll a secret key, so a
person creates the new key in the Dashboard and stages it (``rotation stage``,
which stores it under the ``STAGED`` label and starts the rotation).
createSecret copies the staged value into AWSPENDING, or fails naming the
command to run. testSecret proves the pending key with the real ``stripe``
client: it authenticates, belongs to the same Stripe account as the current
key (or ``ROTATION_STRIPE_ACCOUNT_ID``), has the mode the secret's environment
requires (``sk_live_``/``rk_live_`` only in ``ROTATION_STRIPE_LIVE_ENVIRONMENTS``,
default ``prod``), and a restricted key can perform the read it is expected to
allow (``ROTATION_STRIPE_RESTRICTED_CHECK``).

Webhook signing secrets (``whsec_``) are format-checked. With the secret tagged
``stripe:webhook-endpoint=<we_…>`` and ``stripe:api-key-secret=<secret id>``,
rotation is automatic: createSecret creates a replacement endpoint with the
same URL and events and stores its signing secret; after promotion the old
endpoint is deleted. Both endpoints deliver during the overlap, so consumers
must de-duplicate events by id (``rotator.kinds.stripe.webhooks`` verifies
against the current and previous secrets).
"""
