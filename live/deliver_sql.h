/* live/deliver_sql.h - the user's checks on the user's own database, run by
 * `faultline deliver` after the deliveries drain: SQL with :intent, :event
 * and :order placeholders, prepared once over libpq (blocking: nothing else
 * runs then) and executed per delivered object or event. */
#ifndef LIVE_DELIVER_SQL_H
#define LIVE_DELIVER_SQL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/result.h"

#define DELIVER_SQL_MAX 4096u        /* bytes of one query */
#define DELIVER_CHECKS_MAX 32u

struct deliver_sql;

/* RESULT_ERROR (server unreachable or refused) with libpq's reason in err. */
MUST_USE enum result deliver_sql_open(const char *conninfo, struct deliver_sql **out,
                                      char *err, size_t errsize);
void deliver_sql_close(struct deliver_sql *db);   /* accepts NULL */

/* Prepares check k (0 .. DELIVER_CHECKS_MAX-1) once. *per_event is true when
 * the query names :event (run per event) and false otherwise (per object).
 * RESULT_REJECT with the server's message when the SQL does not prepare. */
MUST_USE enum result deliver_sql_prepare(struct deliver_sql *db, unsigned k,
                                         const char *sql, bool *per_event,
                                         char *err, size_t errsize);

/* Runs check k with the three values bound as text; writes the first column
 * of the one row into got ("(no row)", "(2 rows)" otherwise). RESULT_ERROR
 * with the message when the query fails. */
MUST_USE enum result deliver_sql_run(struct deliver_sql *db, unsigned k,
                                     const char *intent, const char *event,
                                     const char *order, char *got, size_t gotsize,
                                     char *err, size_t errsize);

#endif
