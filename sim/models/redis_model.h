/* sim/models/redis_model.h - an in-process model of the Redis 7 string
 * commands the fixes rely on (GET, SET, INCR, DEL, EXPIRE, PEXPIRE, TTL,
 * PTTL, MULTI/EXEC), on a virtual clock the caller passes in. Synchronous;
 * it knows nothing of the scheduler, the network or faults (sim/simnet.c
 * decides those). Not thread-safe. Not for lists, hashes or pub/sub. */
#ifndef SIM_MODELS_REDIS_MODEL_H
#define SIM_MODELS_REDIS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/env.h"

#define REDIS_MODEL_KEY_MAX 512          /* bytes in a key */
#define REDIS_MODEL_VALUE_MAX 4096       /* bytes in a value */
#define REDIS_MODEL_KEYS_MAX (1u << 20)  /* keys before "OOM ..." replies */

struct redis_model; /* opaque */

/* A model whose key bound is REDIS_MODEL_KEYS_MAX. NULL when out of memory. */
struct redis_model *redis_model_create(void);
/* The same with a smaller key bound, 1 <= keys_max <= REDIS_MODEL_KEYS_MAX:
 * a server with a tight maxmemory. */
struct redis_model *redis_model_create_capped(uint32_t keys_max);
void redis_model_destroy(struct redis_model *m); /* accepts NULL */

/* Executes one command at now_us and fills *out. Strings in *out live in
 * model-owned storage until the next call on m. Replies and error texts are
 * those of Redis 7:
 *  - unknown command or wrong arity: "ERR unknown command ...",
 *    "ERR wrong number of arguments for 'get' command";
 *  - a key over REDIS_MODEL_KEY_MAX or a value over REDIS_MODEL_VALUE_MAX
 *    bytes: "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
 *  - SET or INCR while the model holds its bound of keys (expired keys are
 *    reclaimed first), or when memory runs out:
 *    "OOM command not allowed when used memory > 'maxmemory'.".
 * Time has millisecond resolution, as in Redis: a key set to expire at T ms
 * is visible up to and including now_us / 1000 == T and gone after. EXAT and
 * PXAT read the model clock (now_us / 1000 ms) as Unix time. Arguments are
 * NUL-terminated (struct kv_cmd carries no lengths), so keys and values are
 * binary-safe for every byte but NUL. Commands are 1..KV_ARGV_MAX
 * arguments, none NULL (asserted). MULTI, EXEC and DISCARD are not commands
 * here (the model has no connections): transactions go through
 * redis_model_exec_multi, and those names get the unknown-command error. */
void redis_model_exec(struct redis_model *m, uint64_t now_us,
                      const struct kv_cmd *cmd, struct kv_reply *out);

/* MULTI, cmds..., EXEC as one atomic unit, 0 <= ncmds <= KV_TXN_MAX.
 * *out is a KV_REPLY_ARRAY with one element per command; a runtime error
 * (a SET syntax error, INCR on a non-integer) is an element of type
 * KV_REPLY_ERROR and the other commands still run. An error Redis detects
 * while queueing (unknown command, wrong arity, over-long argument, OOM)
 * aborts the whole EXEC with the error reply
 * "EXECABORT Transaction discarded because of previous errors." and nothing
 * runs. As in Redis, the key bound is checked once, before the first command,
 * so one transaction may go past it by at most KV_TXN_MAX - 1 keys. */
void redis_model_exec_multi(struct redis_model *m, uint64_t now_us, int ncmds,
                            const struct kv_cmd *cmds, struct kv_reply *out);

/* Forgets every key: a restart without persistence. */
void redis_model_flushall(struct redis_model *m);

/* Inspection for invariant checks: never changes what a command would see,
 * skips expired keys. fn gets each live key and its value (NUL-terminated,
 * valid during the call) and its PTTL (-1: no TTL). The order is a function
 * of the command history only, so traces are reproducible. fn must not call
 * into m (asserted). */
typedef void redis_model_key_fn(void *arg, const char *key, const char *value,
                                int64_t pttl_ms);
void redis_model_foreach(struct redis_model *m, uint64_t now_us,
                         redis_model_key_fn *fn, void *arg);
/* Live (unexpired) keys at now_us; O(keys). */
size_t redis_model_dbsize(struct redis_model *m, uint64_t now_us);
/* Keys held in memory, expired ones not yet reclaimed included (what
 * Redis's own DBSIZE counts); for memory statistics. */
size_t redis_model_keys_held(const struct redis_model *m);
/* Commands received since creation, rejected ones and each command of a
 * transaction included (flushall does not reset it). */
uint64_t redis_model_commands(const struct redis_model *m);

#endif
