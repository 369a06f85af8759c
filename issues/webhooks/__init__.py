"""Webhooks: everything between "something happened" and a signed POST to the organization's
receivers.

- `endpoints`: create, update, rotate the key of and delete endpoints; URL and event checks.
- `events`: `webhook_event_emit` (one delivery row per subscribed endpoint) and the payloads.
- `queue`: putting deliveries on the task queue (batched per transaction).
- `delivery`: the engine: claim, send, record every attempt, schedule the retry.
- `sweeps`: redeliver, the re-queue sweep and pruning old deliveries.
- `account_tokens`: the account token of a LinkedAccount.linked event, filled in at send time.
- `outbox`: the consumer of the accounts status-history outbox (LinkedAccount.* events).
- `signing_keys`: which keys sign an attempt (both, during a key rotation's overlap).
- `sender`: one signed POST on the wire (no database).
"""
