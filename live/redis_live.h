/* live/redis_live.h - the key-value port (core/env.h struct kv_port) on a
 * real redis-server, through hiredis's asynchronous API on the run's
 * event_base. Adds what hiredis 0.14 lacks: a deadline per command, which
 * closes the connection. Not for the simulated runs (see the models);
 * one connection, not thread-safe. */
#ifndef SIM_LIVE_REDIS_LIVE_H
#define SIM_LIVE_REDIS_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/env.h"

struct event_base;
struct sched;
struct redis_live;

#define REDIS_LIVE_INFLIGHT_MAX 1024  /* commands sent and not yet answered */
#define REDIS_LIVE_REPLY_DEPTH_MAX 4  /* nesting of arrays in one reply */
#define REDIS_LIVE_REPLY_ELEMENTS_MAX 1024 /* replies in one reply, nested */
#define REDIS_LIVE_REPLY_BYTES_MAX (1u << 20) /* string bytes in one reply */
/* After a failed connection attempt, commands fail at once with
 * OUTCOME_CONN_LOST for this long instead of each trying again. */
#define REDIS_LIVE_RECONNECT_GAP_US 50000

/* url is "redis://HOST[:PORT][/]" (port 6379 when absent). timeout_us > 0 is
 * each command's deadline. base and s are borrowed and must outlive the
 * adapter; s must run on base in SCHED_REAL mode. No connection is made
 * here: the first command connects. Returns NULL and a message in err
 * (errsize bytes, may be 0) on a bad URL or out of memory. */
struct redis_live *redis_live_create(struct event_base *base, struct sched *s,
                                     const char *url, uint64_t timeout_us,
                                     char *err, size_t errsize);

/* Accepts NULL. Closes the connection. Operations still pending are dropped
 * without their callbacks: destroy after the loop has drained them (see
 * redis_live_pending) or when abandoning the run. */
void redis_live_destroy(struct redis_live *rl);

/* Fills *out with the port. Its contract (core/env.h) holds, and:
 *  - command and transaction complete on a later pass of the loop, never
 *    inside the call and never inside a hiredis callback;
 *  - OUTCOME_TIMEOUT when no reply came within timeout_us; the connection
 *    is closed then (a link that lost a command would otherwise shift every
 *    later reply onto the command before it), so what else was in flight
 *    on it completes with OUTCOME_CONN_LOST;
 *  - OUTCOME_CONN_LOST when the connection was refused, reset or closed
 *    (every pending command completes so), when no connection could be made
 *    within the deadline, within REDIS_LIVE_RECONNECT_GAP_US of a failed
 *    attempt, or when REDIS_LIVE_INFLIGHT_MAX commands are in flight (the
 *    command is not sent); the next command reconnects;
 *  - OUTCOME_ERROR with the error reply (for a transaction: the first error
 *    among the replies to MULTI, the queued commands and EXEC), or with a
 *    reply "ERR faultline: reply exceeds limits" past the REPLY limits. */
void redis_live_port(struct redis_live *rl, struct kv_port *out);

/* Replies that arrived after their command had timed out (dropped); since
 * a deadline closes the connection, none can. */
uint64_t redis_live_late_replies(const struct redis_live *rl);
/* Connection attempts made so far (the first one included). */
uint64_t redis_live_connects(const struct redis_live *rl);
/* Operations whose callback has not been called yet. */
uint64_t redis_live_pending(const struct redis_live *rl);

#endif
