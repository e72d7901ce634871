/* live/deliver_sql.c - placeholders rewritten to $1 (intent), $2 (event),
 * $3 (order) outside quotes and :: casts, then PQprepare / PQexecPrepared. */
#include "live/deliver_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/assert.h"

#define DELIVER_SQL_TEXT_OID 25

struct deliver_sql {
	PGconn *conn;
};

enum result deliver_sql_open(const char *conninfo, struct deliver_sql **out,
                             char *err, size_t errsize)
{
	struct deliver_sql *db = calloc(1, sizeof *db);
	if (db == NULL) {
		snprintf(err, errsize, "out of memory");
		return RESULT_NOMEM;
	}
	db->conn = PQconnectdb(conninfo);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		snprintf(err, errsize, "%s", db->conn != NULL ? PQerrorMessage(db->conn) : "out of memory");
		err[strcspn(err, "\n")] = '\0';
		deliver_sql_close(db);
		return RESULT_ERROR;
	}
	*out = db;
	return RESULT_OK;
}

void deliver_sql_close(struct deliver_sql *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	free(db);
}

/* Rewrites sql into out; false when too long. */
static bool sql_rewrite(const char *sql, char *out, size_t size, bool *per_event)
{
	static const char *const names[] = {"intent", "event", "order"};
	size_t o = 0;
	char quote = 0;
	*per_event = false;
	for (size_t i = 0; sql[i] != '\0'; i++) {
		char c = sql[i];
		if (quote != 0) {
			if (c == quote)
				quote = 0;
		} else if (c == '\'' || c == '"') {
			quote = c;
		} else if (c == ':' && sql[i + 1] == ':') {
			if (o + 2 >= size)
				return false;
			out[o++] = ':';
			out[o++] = ':';
			i++;
			continue;
		} else if (c == ':') {
			for (unsigned k = 0; k < 3; k++) {
				size_t len = strlen(names[k]);
				char next = sql[i + 1 + len];
				if (strncmp(sql + i + 1, names[k], len) == 0 &&
				    !(next == '_' || (next >= 'a' && next <= 'z') ||
				      (next >= '0' && next <= '9'))) {
					if (o + 3 >= size)
						return false;
					out[o++] = '$';
					out[o++] = (char)('1' + k);
					i += len;
					*per_event = *per_event || k == 1;
					goto next;
				}
			}
		}
		if (o + 1 >= size)
			return false;
		out[o++] = c;
next:;
	}
	out[o] = '\0';
	return true;
}

enum result deliver_sql_prepare(struct deliver_sql *db, unsigned k, const char *sql,
                                bool *per_event, char *err, size_t errsize)
{
	ASSERT(k < DELIVER_CHECKS_MAX);
	char text[DELIVER_SQL_MAX + 64], name[32];
	if (strlen(sql) > DELIVER_SQL_MAX || !sql_rewrite(sql, text, sizeof text, per_event)) {
		snprintf(err, errsize, "query over %u bytes", DELIVER_SQL_MAX);
		return RESULT_REJECT;
	}
	snprintf(name, sizeof name, "faultline_check_%u", k);
	const unsigned int types[3] = {DELIVER_SQL_TEXT_OID, DELIVER_SQL_TEXT_OID,
	                               DELIVER_SQL_TEXT_OID};
	PGresult *res = PQprepare(db->conn, name, text, 3, types);
	enum result rc = RESULT_OK;
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errsize, "%s", PQerrorMessage(db->conn));
		err[strcspn(err, "\n")] = '\0';
		rc = RESULT_REJECT;
	}
	PQclear(res);
	return rc;
}

enum result deliver_sql_run(struct deliver_sql *db, unsigned k, const char *intent,
                            const char *event, const char *order, char *got,
                            size_t gotsize, char *err, size_t errsize)
{
	char name[32];
	snprintf(name, sizeof name, "faultline_check_%u", k);
	const char *values[3] = {intent, event, order};
	PGresult *res = PQexecPrepared(db->conn, name, 3, values, NULL, NULL, 0);
	enum result rc = RESULT_OK;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errsize, "%s", PQerrorMessage(db->conn));
		err[strcspn(err, "\n")] = '\0';
		rc = RESULT_ERROR;
	} else if (PQntuples(res) != 1 || PQnfields(res) < 1) {
		snprintf(got, gotsize, "(%d rows)", PQntuples(res));
	} else {
		snprintf(got, gotsize, "%s", PQgetisnull(res, 0, 0) ? "null" : PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return rc;
}
