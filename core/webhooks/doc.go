// Package webhooks delivers unified events to the platform: it owns
// webhook endpoints (a tenant's subscriptions), their signing secrets, the
// queue of deliveries and the HTTP client that makes them, kept away from
// the gateway's own network.
//
// Events reach it through the event log: Service.Log wraps the log the
// events recorder appends to, and every event appended is handed to
// Publish. When the tenant has an endpoint, Publish keeps the event in the
// Store and queues a fan-out task; the fan-out (on any instance) creates
// one Delivery per enabled endpoint subscribed to the event's type and
// queues a task per delivery. Workers take tasks from the queue
// (store.Queue: a Redis stream with a delayed set in Redis mode, so any
// instance delivers and a dead instance's tasks are taken over after the
// visibility timeout) and attempt them.
//
// # Choices
//
//   - Signing follows Standard Webhooks: headers webhook-id (the event id,
//     the same on every attempt and every endpoint, for de-duplication),
//     webhook-timestamp (Unix seconds of the attempt) and
//     webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>"),
//     keyed with the base64 part of the endpoint's secret "whsec_<base64 of
//     32 random bytes>". The body is the event as GET /v1/events shows it,
//     the same bytes on every attempt.
//   - Secrets are shown once, in the answer to create and to a rotation,
//     and never logged (they are provider.Secret, which redacts itself). A
//     rotation keeps the old secret signing beside the new one for an
//     overlap (default 24h, at most 7 days): each message then carries two
//     space-separated v1 signatures, and a receiver holding either secret
//     verifies it.
//   - Delivery is at least once. Only a 2xx answer is success; 3xx is a
//     failure (redirects are never followed); 410 Gone fails the delivery
//     and disables the endpoint at once. Other failures are retried after
//     5s, 5m, 30m, 2h, 5h, 10h and 10h (DefaultSchedule, configurable; each
//     wait plus up to 10% jitter), then the delivery is failed. An endpoint
//     every attempt to which has failed for DisableAfter (default 5 days)
//     is disabled. Either way the gateway records a
//     webhook_endpoint.disabled event (delivered to the tenant's other
//     endpoints), and events are no longer delivered to it until it is
//     enabled again; pending retries to a disabled or deleted endpoint end
//     failed.
//   - Every attempt is logged on its delivery (time, trigger, status code,
//     latency, error; the latest 30), readable through the API. A manual
//     redelivery starts the schedule afresh; a retry that was still
//     scheduled is dropped (its task carries the delivery's old sequence
//     number).
//   - A job's callbackUrl names one of the tenant's endpoints (the oldest
//     with that exact URL): its job.completed event goes there once, with
//     the job's customHeaders, even if the endpoint does not subscribe to
//     job.completed. customHeaders never replace the signature headers,
//     Content-Type, User-Agent or hop-by-hop headers.
//   - Isolation: each instance makes at most Workers attempts at once and
//     at most PerEndpoint to one endpoint; a task for a busy endpoint goes
//     back to the queue without holding a worker, for longer the more tasks
//     already wait for that endpoint (at its recent pace, up to 5 minutes,
//     so a hanging endpoint's backlog does not churn the queue), and every
//     attempt is bounded by
//     AttemptTimeout (default 10s), so a slow or hanging endpoint delays
//     only its own deliveries. What is read of an answer is bounded (64
//     KiB) and thrown away.
//   - The SSRF guard (Guard) follows stripe/smokescreen's classification:
//     loopback, private (RFC 1918, fc00::/7), link-local, multicast,
//     unspecified, carrier-grade NAT, reserved, and IPv6 forms embedding an
//     IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible; IPv4-mapped ones
//     are checked as the IPv4 address) are refused unless the operator's
//     allowlist holds them; cloud metadata addresses are refused always.
//     Plain http is allowed only to allowlisted networks. URLs are checked
//     at registration (a 400 naming /url) and every connection is checked
//     again on the address dialled, so DNS rebinding does not get through.
//     URLs carrying credentials are refused.
//   - Events and deliveries are kept for a retention period (30 days by
//     default) by the store; a redelivery can send any event kept for the
//     tenant, including one recorded before the endpoint existed.
//
// Metrics: vagate.webhooks.attempts and .attempt.duration by outcome,
// vagate.webhooks.deliveries settled by outcome, vagate.webhooks.backlog
// (pending deliveries, the queue depth) and .backlog.oldest_age; each
// attempt is a "webhook attempt" span.
package webhooks
