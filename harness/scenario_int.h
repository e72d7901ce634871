/* harness/scenario_int.h - what the scenario loader's files share: the YAML
 * tree with each node's line:column, the loader's state and its error helpers.
 * Private to harness/scenario_*.c. */
#ifndef HARNESS_SCENARIO_INT_H
#define HARNESS_SCENARIO_INT_H

#include <errno.h>
#include <inttypes.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/scenario_load.h"
#include "core/assert.h"
#include "core/email_check.h"
#include "core/sql.h"

#define SCENARIO_FILE_MAX (1u << 20)      /* bytes of one scenario file */
#define SCENARIO_DEPTH_MAX 8              /* nesting of mappings and lists */
#define SCENARIO_NODES_MAX 65536u         /* YAML nodes in one file */
#define SCENARIO_TEXT_ARENA_MAX (4u << 20)/* bytes of all scalars together */
#define SCENARIO_NAME_MAX 128             /* bytes of "name:" */
#define SCENARIO_SEEDS_MAX 1000000u       /* "seeds:" as a count */
#define SCENARIO_DURATION_MAX_US (8760ull * 3600 * 1000000) /* one year */
#define SCENARIO_SENDS_MAX 100u           /* sends of one quote */
#define SCENARIO_CLICKS_MAX 16u           /* concurrent first presses of one quote */
#define SCENARIO_BAD_KEYS_MAX 1000u       /* dedup requests with an unusable key */
#define SCENARIO_ARRIVALS_MAX 1000000u    /* requests one fix's workload makes */
#define SCENARIO_USERS_MAX 10000u
#define SCENARIO_COUNT_MAX 100000u        /* requests, events and the like */
#define SCENARIO_COPIES_MAX 100u          /* copies of one delivery/request */
#define SCENARIO_INSTANCES_MAX 16u        /* dedup: application instances */
#define SCENARIO_ID_PADDED_MIN 16u        /* a padded id holds its number */
#define SCENARIO_POOL_MAX 1024u           /* postgres pool size */
#define SCENARIO_ALPHA_MAX 100.0          /* pareto shape */
#define SCENARIO_PATH_MAX 128             /* "faults[12].latency.max" */
#define SCENARIO_SHOW_MAX 48              /* bytes of a value quoted in a message */

#define INV_BIT(i) (1u << (i))
#define FIX_BIT(f) (1u << (f))
#define INV_ALWAYS (INV_BIT(INV_NO_UNHANDLED) | INV_BIT(INV_NO_HUNG))

/* The YAML tree, built from libfyaml's events so that every node keeps the
 * line:column where it starts (this libfyaml has no node start mark). Nodes
 * live in one array and point at each other by index, 0 meaning none; scalar
 * text lives NUL-terminated in one arena, the length kept apart for NULs. */

enum ynode_type { YN_SCALAR, YN_MAP, YN_SEQ };

struct ynode {
	enum ynode_type type;
	bool plain;               /* scalar written without quotes or block style */
	int line, column;         /* 1-based */
	size_t text_off, text_len;
	uint32_t first, last, next; /* children in order; a mapping's alternate
	                             * key, value, key, value ... */
	uint32_t nchildren;
};

struct ytree {
	struct ynode *nodes;
	uint32_t n, cap;
	char *text;
	size_t text_len, text_cap;
	uint32_t root;
};

struct loader {
	const char *file;         /* name used in messages */
	const char *input;        /* the YAML text, borrowed */
	size_t input_len;
	enum result rc;           /* RESULT_OK until the first failure */
	struct scenario_error err;
	struct ytree t;
	struct scenario *sc;
	int last_line, last_column; /* of the latest event that had a mark */
	const struct ynode *fix_node[FIX_COUNT]; /* where each fix is listed */
};

void scn_names_join(char *buf, size_t size, const char *const *names, size_t n);
bool scn_text_is(const char *s, size_t len, const char *word);
int scn_text_printf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool scn_byte_graphic(unsigned char c);
bool scn_byte_not_control(unsigned char c);
bool scn_byte_op(unsigned char c);
bool scn_byte_printable(unsigned char c);
bool scn_byte_sqlstate(unsigned char c);
bool scn_byte_stripe_type(unsigned char c);
char *scn_dup_text(struct loader *ld, const struct ynode *n);
bool scn_fail(struct loader *ld, const struct ynode *n, const char *path,
                 const char *fmt, ...);
bool scn_fail_nomem(struct loader *ld);
bool scn_get_bool(struct loader *ld, const struct ynode *n, const char *path,
                     bool *out);
bool scn_get_duration(struct loader *ld, const struct ynode *n, const char *path,
                         uint64_t *out_us);
/* A duration of whole milliseconds, 1ms .. max_ms (what a core counts in). */
bool scn_get_duration_ms(struct loader *ld, const struct ynode *n, const char *path,
                         uint64_t max_ms, uint64_t *out_us);
bool scn_get_duration_positive(struct loader *ld, const struct ynode *n,
                                  const char *path, uint64_t *out_us);
bool scn_get_number(struct loader *ld, const struct ynode *n, const char *path,
                       double min, double max, double *out);
bool scn_get_text(struct loader *ld, const struct ynode *n, const char *path,
                     size_t max_len, bool (*ok_byte)(unsigned char), const char *what,
                     char *out, size_t out_size);
bool scn_get_u32(struct loader *ld, const struct ynode *n, const char *path,
                    uint32_t min, uint32_t max, uint32_t *out);
bool scn_get_uint(struct loader *ld, const struct ynode *n, const char *path,
                     uint64_t min, uint64_t max, uint64_t *out);
bool scn_is_null(const struct loader *ld, const struct ynode *n);
bool scn_loader_fail_at(struct loader *ld, int line, int column,
                           const char *path, const char *fmt, ...);
bool scn_map_check(struct loader *ld, const struct ynode *n, const char *path,
                      const char *const *keys, size_t nkeys);
const struct ynode *scn_map_get(const struct loader *ld, const struct ynode *n,
                                   const char *key, const struct ynode **key_out);
void scn_path_join(char *out, const char *path, const char *key);
const char *scn_show_node(const struct loader *ld, char buf[static SCENARIO_SHOW_MAX + 8],
                             const struct ynode *n);
bool scn_want_scalar(struct loader *ld, const struct ynode *n, const char *path,
                        const char *what);
const struct ynode *scn_ychild(const struct loader *ld, const struct ynode *n);
const struct ynode *scn_ynext(const struct loader *ld, const struct ynode *n);
const char *scn_ytext(const struct loader *ld, const struct ynode *n);
bool scn_ytree_build(struct loader *ld, const char *buf, size_t len);

/* Reads an optional key with a getter; absent leaves *out alone. */
#define OPT(getter, map, path, key, ...)                                      \
	do {                                                                  \
		const struct ynode *v_ = scn_map_get(ld, (map), (key), NULL);     \
		char p_[SCENARIO_PATH_MAX];                                   \
		scn_path_join(p_, (path), (key));                                 \
		if (v_ != NULL && !getter(ld, v_, p_, __VA_ARGS__))           \
			return false;                                         \
	} while (0)

#endif
