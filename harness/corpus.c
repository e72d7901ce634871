/* harness/corpus.c - corpus entries as scenario files whose first comment
 * lines say where they came from ("# corpus-scenario: NAME", "#
 * corpus-variant: V", "# corpus-seed: S", "# corpus-violated: A, B"). The
 * file itself is an ordinary scenario: `faultline run ENTRY` works too. */
#include "harness/corpus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/assert.h"
#include "harness/paths.h"
#include "harness/scenario_load.h"
#include "harness/scenario_write.h"
#include "harness/swarm.h"

#define CORPUS_HEAD_MAX 4096          /* bytes of an entry read for its header */

static void safe_copy(const char *in, char *out, size_t size)
{
	size_t i = 0;
	for (; in[i] != '\0' && i + 1 < size; i++) {
		char c = in[i];
		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		                 c == '-' || c == '_' || c == '.'
		         ? c : '_';
	}
	out[i] = '\0';
}

enum result corpus_add(const char *dir, const struct scenario *sc,
                       const struct variant_set *vs, uint64_t seed, uint32_t violated,
                       char *err, size_t errsize)
{
	ASSERT(dir != NULL);
	ASSERT(sc != NULL);
	ASSERT(vs != NULL);
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		snprintf(err, errsize, "cannot create %s: %s", dir, strerror(errno));
		return RESULT_ERROR;
	}
	char var[160], name[128], svar[160], path[1024];
	variant_set_format(vs, sc, var, sizeof var);
	safe_copy(sc->name, name, sizeof name);
	safe_copy(var, svar, sizeof svar);
	snprintf(path, sizeof path, "%s/%s-%s-%" PRIu64 ".yaml", dir, name, svar, seed);
	struct stat st;
	if (stat(path, &st) == 0)
		return RESULT_OK;

	/* The one seed as it ran: a swarm seed's own variation. */
	char note[SWARM_NOTE_MAX] = "";
	struct scenario *one = sc->swarm ? swarm_draw(sc, seed, note, sizeof note)
	                                 : swarm_one_seed(sc, seed);
	if (one == NULL) {
		snprintf(err, errsize, "out of memory");
		return RESULT_NOMEM;
	}
	char head[2048], viol[600] = "";
	size_t used = 0;
	for (int i = 0; i < INV_COUNT; i++) {
		if (!(violated & (1u << i)))
			continue;
		int w = snprintf(viol + used, sizeof viol - used, "%s%s", used ? ", " : "",
		                 invariant_name((enum invariant_id)i));
		if (w > 0 && (size_t)w < sizeof viol - used)
			used += (size_t)w;
	}
	snprintf(head, sizeof head,
	         "corpus-scenario: %s\ncorpus-variant: %s\ncorpus-seed: %" PRIu64 "\n"
	         "corpus-violated: %s\n"
	         "A regression entry of faultline's corpus, from %s%s%s.",
	         sc->name, var, seed, viol, sc->path, note[0] ? "; swarm draw: " : "", note);
	char tmp[1100];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	enum result rc = RESULT_OK;
	if (f == NULL || scenario_write(one, head, f) != RESULT_OK) {
		rc = RESULT_ERROR;
	}
	if (f != NULL && fclose(f) != 0)
		rc = RESULT_ERROR;
	if (rc == RESULT_OK && rename(tmp, path) != 0)
		rc = RESULT_ERROR;
	if (rc != RESULT_OK) {
		snprintf(err, errsize, "cannot write %s: %s", path, strerror(errno));
		remove(tmp);
	}
	scenario_destroy(one);
	return rc;
}

/* The value of "# KEY: value" in the header text, into out. */
static bool head_value(const char *text, const char *key, char *out, size_t size)
{
	char pat[64];
	snprintf(pat, sizeof pat, "# %s: ", key);
	const char *p = strstr(text, pat);
	if (p == NULL)
		return false;
	p += strlen(pat);
	size_t n = strcspn(p, "\n");
	if (n + 1 > size)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static enum result entry_load(const char *path, struct corpus_entry *e, char *err,
                              size_t errsize)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return RESULT_REJECT;
	}
	char head[CORPUS_HEAD_MAX + 1];
	size_t n = fread(head, 1, CORPUS_HEAD_MAX, f);
	head[n] = '\0';
	fclose(f);
	char var[160], seed[32], viol[600] = "", vserr[200];
	if (!head_value(head, "corpus-scenario", e->scenario, sizeof e->scenario) ||
	    !head_value(head, "corpus-variant", var, sizeof var) ||
	    !head_value(head, "corpus-seed", seed, sizeof seed)) {
		snprintf(err, errsize, "%s: not a corpus entry (no '# corpus-scenario:', "
		         "'# corpus-variant:' and '# corpus-seed:' lines)", path);
		return RESULT_REJECT;
	}
	head_value(head, "corpus-violated", viol, sizeof viol);
	for (int k = 0; k < FIX_COUNT; k++)
		e->vs.v[k] = VARIANT_HARDENED;
	char *end;
	errno = 0;
	e->seed = strtoull(seed, &end, 10);
	if (errno != 0 || *end != '\0' || seed[0] == '\0' || seed[0] == '-' ||
	    !variant_set_parse(var, &e->vs, vserr, sizeof vserr)) {
		snprintf(err, errsize, "%s: bad corpus-seed or corpus-variant line", path);
		return RESULT_REJECT;
	}
	e->violated = 0;
	for (char *tok = strtok(viol, ", "); tok != NULL; tok = strtok(NULL, ", ")) {
		enum invariant_id id;
		if (invariant_parse(tok, &id))
			e->violated |= 1u << id;
	}
	struct scenario_error se;
	enum result rc = scenario_load(path, &e->sc, &se);
	if (rc != RESULT_OK) {
		scenario_error_format(&se, err, errsize);
		return rc == RESULT_NOMEM ? RESULT_NOMEM : RESULT_REJECT;
	}
	return RESULT_OK;
}

enum result corpus_load(const char *dir, struct corpus *out, char *err, size_t errsize)
{
	ASSERT(dir != NULL);
	ASSERT(out != NULL);
	struct stat st;
	if (stat(dir, &st) != 0 && errno == ENOENT) {
		out->entries = NULL;
		out->n = 0;
		return RESULT_OK;
	}
	struct path_list pl;
	char *dirs[] = {(char *)dir};
	enum result rc = paths_collect(1, dirs, &pl, err, errsize);
	if (rc != RESULT_OK)
		return RESULT_REJECT;
	if (pl.n > CORPUS_ENTRIES_MAX) {
		snprintf(err, errsize, "%s: more than %d corpus entries", dir, CORPUS_ENTRIES_MAX);
		paths_fini(&pl);
		return RESULT_REJECT;
	}
	struct corpus c = {.entries = calloc(pl.n ? pl.n : 1, sizeof *c.entries)};
	if (c.entries == NULL) {
		paths_fini(&pl);
		return RESULT_NOMEM;
	}
	for (size_t i = 0; i < pl.n; i++) {
		rc = entry_load(pl.paths[i], &c.entries[c.n], err, errsize);
		if (rc != RESULT_OK) {
			corpus_fini(&c);
			paths_fini(&pl);
			return rc;
		}
		c.n++;
	}
	paths_fini(&pl);
	*out = c;
	return RESULT_OK;
}

void corpus_fini(struct corpus *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		scenario_destroy(c->entries[i].sc);
	free(c->entries);
	c->entries = NULL;
	c->n = 0;
}
