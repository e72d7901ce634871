/* reports/report_html.c - report.html: one self-contained page, inline CSS
 * and SVG only (no script, no font, no image to fetch), readable in a narrow
 * window and on paper. Every cell says its state in words as well as in
 * colour. All user text goes through textbuf_put_xml*. Not a template
 * engine: the page is written in order, section by section. */
#include "reports/report_html.h"
#include "reports/report_coverage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "reports/report_files.h"
#include "reports/report_matrix.h"

/* Timeline geometry, in SVG user units. */
#define TL_WIDTH 900
#define TL_LEFT 84
#define TL_RIGHT 28
#define TL_TOP 34
#define TL_LANE_H 24
#define TL_BOTTOM 36
#define TL_TABLE_TAIL 12            /* events listed open; the rest fold */

/* Chart geometry. */
#define CHART_WIDTH 340
#define CHART_NAMES_MAX REPORT_COUNTS_MAX   /* names per chart */
#define CHART_SERIES_MAX REPORT_MATRIX_COLUMNS_MAX

static const char *const html_lanes[] = {
	"request", "redis", "postgres", "stripe", "mail", "webhook", "fault",
};
#define HTML_LANES (sizeof html_lanes / sizeof html_lanes[0])

static const char *const html_lane_colors[] = {
	"#1f6feb", "#d6336c", "#6f42c1", "#0a9396", "#e85d04", "#9c6644", "#343a40",
};
#define HTML_OTHER_LANE_COLOR "#868e96"

/* Series colours for variants, chosen away from the red and green of the
 * verdicts; the three standard variants get fixed ones. */
static const char *const html_series_colors[] = {
	"#8c5fb3", "#e0a030", "#2e86ab", "#5c946e", "#c46d5e", "#5a6fbd", "#a3a847",
};

static const char *html_variant_color(const char *variant, size_t index)
{
	if (strcmp(variant, "legacy") == 0)
		return html_series_colors[0];
	if (strcmp(variant, "seed") == 0)
		return html_series_colors[1];
	if (strcmp(variant, "hardened") == 0)
		return html_series_colors[2];
	return html_series_colors[index % (sizeof html_series_colors /
	                                   sizeof html_series_colors[0])];
}

static const char *html_outcome_color(const char *name, size_t index)
{
	static const struct { const char *name, *color; } known[] = {
		{"ok", "#2da44e"}, {"rejected", "#d4a72c"}, {"duplicate", "#8250df"},
		{"error", "#cf222e"}, {"timeout", "#bc4c00"}, {"unhandled", "#6e2d2d"},
		{"crash", "#6e2d2d"}, {"skipped", "#8c959f"},
	};
	static const char *const others[] = {
		"#0969da", "#1b7c83", "#bf8700", "#953800", "#6639ba", "#57606a",
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		if (strcmp(known[i].name, name) == 0)
			return known[i].color;
	}
	return others[index % (sizeof others / sizeof others[0])];
}

static const char html_style[] =
	":root{--held:#116329;--held-bg:#dafbe1;--held-br:#4ac26b;"
	"--bad:#a40e26;--bad-bg:#ffebe9;--bad-br:#ff8182;"
	"--none:#57606a;--none-bg:#f6f8fa;--none-br:#d0d7de;--ink:#1f2328;--muted:#59636e;"
	"--line:#d0d7de}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;color:var(--ink);background:#fff;font:15px/1.5 system-ui,-apple-system,"
	"'Segoe UI',Roboto,'DejaVu Sans',sans-serif;-webkit-print-color-adjust:exact;"
	"print-color-adjust:exact}\n"
	"main{max-width:1180px;margin:0 auto;padding:0 20px 40px}\n"
	"h1{font-size:26px;margin:0 0 4px;line-height:1.25}\n"
	"h2{font-size:19px;margin:34px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}\n"
	"h3{font-size:16px;margin:0 0 6px}\n"
	"code,pre{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:13px}\n"
	".verdict{padding:22px 20px 18px;border-bottom:4px solid;margin-bottom:8px}\n"
	".verdict .inner{max-width:1140px;margin:0 auto}\n"
	".verdict.violated{background:var(--bad-bg);border-color:#cf222e;color:var(--bad)}\n"
	".verdict.held{background:var(--held-bg);border-color:#2da44e;color:var(--held)}\n"
	".verdict .word{display:inline-block;font-weight:700;letter-spacing:.06em;font-size:13px;"
	"padding:2px 10px;border-radius:999px;border:2px solid currentColor;margin-bottom:8px}\n"
	".verdict .meta{color:var(--ink);margin:0}\n"
	".verdict .reasons{margin:4px 0 8px;color:var(--ink)}\n"
	".stats{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0 0;padding:0;list-style:none}\n"
	".stats li{background:#fff;border:1px solid var(--line);border-radius:8px;padding:6px 14px;"
	"color:var(--ink);min-width:112px}\n"
	".stats strong{display:block;font-size:22px;line-height:1.2}\n"
	".stats .bad strong{color:#cf222e}.stats .good strong{color:#1a7f37}.stats .none strong{color:var(--none)}\n"
	".scroll-x{overflow-x:auto}\n"
	"table{border-collapse:collapse}\n"
	".matrix{width:100%;font-size:14px}\n"
	".matrix th,.matrix td{border:1px solid var(--line);padding:6px 10px;text-align:left;"
	"vertical-align:middle}\n"
	".matrix thead th{background:#f6f8fa;white-space:nowrap}\n"
	".matrix .group{font-weight:600;background:#fbfcfd}\n"
	".matrix .fix{display:block;font-weight:400;color:var(--muted);font-size:12px}\n"
	".cell{white-space:nowrap;font-weight:600}\n"
	".cell a{color:inherit}\n"
	".cell.held{background:var(--held-bg);color:var(--held);border-left:4px solid var(--held-br)}\n"
	".cell.violated{background:var(--bad-bg);color:var(--bad);border-left:4px solid var(--bad-br)}\n"
	".cell.none{background:var(--none-bg);color:var(--none);border-left:4px dashed var(--none-br);"
	"font-weight:400}\n"
	".cell.absent{color:var(--muted);font-weight:400}\n"
	".legend{color:var(--muted);font-size:13px}\n"
	".card{border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:0 0 18px;"
	"break-inside:avoid}\n"
	".violation{border-left:6px solid #cf222e}\n"
	".message{font-size:15px;background:var(--bad-bg);border-radius:6px;padding:8px 12px;margin:8px 0}\n"
	".sub{color:var(--muted);font-size:13px;margin:0 0 6px}\n"
	"pre.replay{background:#0d1117;color:#e6edf3;padding:10px 14px;border-radius:6px;"
	"white-space:pre-wrap;word-break:break-all;margin:10px 0 0}\n"
	"pre.replay::before{content:'$ ';color:#7d8590}\n"
	"svg{display:block;width:100%;height:auto;font-family:system-ui,'DejaVu Sans',sans-serif}\n"
	".events{border:1px solid var(--line);border-radius:6px;margin-top:8px;overflow-x:auto}\n"
	".events table{width:100%;font-size:13px;table-layout:fixed}\n"
	".events .c-t{width:8.5em}.events .c-lane{width:8.5em}.events td:nth-child(2){white-space:nowrap}\n"
	".events summary{padding:4px 10px;color:var(--muted);font-size:13px;cursor:pointer}\n"

	".events td,.events th{padding:3px 10px;border-bottom:1px solid #eaeef2;text-align:left;"
	"vertical-align:top}\n"
	".events th{background:#f6f8fa}\n"
	".events td:last-child{overflow-wrap:anywhere}\n"
	".events tr.inv td{background:var(--bad-bg);color:var(--bad);font-weight:600}\n"
	".t{white-space:nowrap;font-variant-numeric:tabular-nums;color:var(--muted)}\n"
	".chip{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px}\n"
	".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:16px;"
	"margin:10px 0}\n"
	"figure{margin:0}\n"
	"figcaption{font-weight:600;font-size:14px;margin-bottom:4px}\n"
	".facts{font-size:13px;width:100%}\n"
	".facts td,.facts th{border-bottom:1px solid #eaeef2;padding:4px 8px;text-align:left;"
	"vertical-align:top}\n"
	".files{font-size:12px;color:var(--muted)}\n"
	".files code{font-size:12px;word-break:break-all}\n"
	"@media (max-width:640px){body{font-size:14px}main{padding:0 10px 30px}"
	".verdict{padding:16px 12px}h1{font-size:21px}.matrix{font-size:13px}"
	".matrix th,.matrix td{padding:4px 5px}.cell{white-space:normal}"
	".matrix thead th{white-space:normal}}\n"
	"@media print{body{font-size:11pt}main{max-width:none;padding:0}.events{"
	"overflow:visible}.card,tr{break-inside:avoid}a{text-decoration:none}"
	".scroll-x{overflow:visible}}\n";

static void html_text(struct textbuf *out, const char *s)
{
	textbuf_put_xml(out, s);
}

static void html_attr(struct textbuf *out, const char *s)
{
	textbuf_put_xml_attr(out, s);
}

static void html_u64(struct textbuf *out, uint64_t v)
{
	textbuf_printf(out, "%llu", (unsigned long long)v);
}

/* The result's columns (variants with a result for scenario), as the
 * matrix orders them. */
struct html_series {
	const struct report_result *res[CHART_SERIES_MAX];
	const char *color[CHART_SERIES_MAX];
	size_t n;
};

static void html_series_of(const struct report *r, const struct report_matrix *m,
                           const char *scenario, struct html_series *s)
{
	s->n = 0;
	for (size_t c = 0; c < m->ncolumns && s->n < CHART_SERIES_MAX; c++) {
		const struct report_result *res = report_find_result(r, scenario, m->columns[c]);
		if (res == NULL)
			continue;
		s->res[s->n] = res;
		s->color[s->n] = html_variant_color(res->variant, c);
		s->n++;
	}
}

/* Names across the series' count lists (faults or outcomes), sorted; "ok"
 * first when first_ok. Returns how many (at most CHART_NAMES_MAX). */
enum html_counts { HTML_FAULTS, HTML_OUTCOMES };

static void html_counts_of(const struct report_result *res, enum html_counts which,
                           const struct report_count **c, size_t *n)
{
	if (which == HTML_FAULTS) {
		*c = res->faults;
		*n = res->nfaults;
	} else {
		*c = res->outcomes;
		*n = res->noutcomes;
	}
}

static uint64_t html_count_get(const struct report_result *res, enum html_counts which,
                               const char *name)
{
	const struct report_count *c;
	size_t n;
	html_counts_of(res, which, &c, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(c[i].name, name) == 0)
			return c[i].count;
	}
	return 0;
}

static int html_name_compare(const void *a, const void *b)
{
	const char *const *x = a;
	const char *const *y = b;
	/* "ok" leads: the outcome every reader looks for first. */
	if (strcmp(*x, "ok") == 0)
		return strcmp(*y, "ok") == 0 ? 0 : -1;
	if (strcmp(*y, "ok") == 0)
		return 1;
	return strcmp(*x, *y);
}

static size_t html_names_of(const struct html_series *s, enum html_counts which,
                            const char **names)
{
	size_t n = 0;
	for (size_t k = 0; k < s->n; k++) {
		const struct report_count *c;
		size_t nc;
		html_counts_of(s->res[k], which, &c, &nc);
		for (size_t i = 0; i < nc; i++) {
			bool seen = false;
			for (size_t j = 0; j < n && !seen; j++)
				seen = strcmp(names[j], c[i].name) == 0;
			if (!seen && n < CHART_NAMES_MAX)
				names[n++] = c[i].name;
		}
	}
	qsort(names, n, sizeof *names, html_name_compare);
	return n;
}

/* Header ------------------------------------------------------------------- */

static void html_stat(struct textbuf *out, const char *cls, uint64_t v, const char *what)
{
	textbuf_printf(out, "<li class=\"%s\"><strong>%llu</strong>%s</li>", cls,
	               (unsigned long long)v, what);
}

static void html_header(struct textbuf *out, const struct report *r,
                        const struct report_summary *s)
{
	uint64_t cells = s->invariants_held + s->invariants_violated +
	                 s->invariants_not_exercised;
	ASSERT(r->verdict_set);
	textbuf_printf(out, "<header class=\"verdict %s\"><div class=\"inner\">\n",
	               r->pass ? "held" : "violated");
	textbuf_printf(out, "<div class=\"word\">%s%s</div>\n", r->pass ? "✓ " : "✗ ",
	               r->matrix ? (r->pass ? "MATRIX PASSES" : "MATRIX FAILS")
	                         : (r->pass ? "PASSES" : "FAILS"));
	textbuf_put(out, "<h1>");
	html_text(out, r->headline);
	textbuf_put(out, "</h1>\n");
	if (r->nreasons > 0) {
		textbuf_printf(out, "<p class=\"meta\">The verdict fails for %zu %s:</p>\n"
		               "<ul class=\"reasons\">", r->nreasons,
		               r->nreasons == 1 ? "reason" : "reasons");
		for (size_t i = 0; i < r->nreasons; i++) {
			textbuf_put(out, "<li>");
			html_text(out, r->reasons[i].text);
			textbuf_put(out, "</li>");
		}
		textbuf_put(out, "</ul>\n");
	}
	if (r->matrix)
		textbuf_printf(out, "<p class=\"meta\">Every scenario ran under every "
		               "variant: %llu of %llu invariant checks were violated, by the legacy "
		               "and seed variants the matrix is meant to expose.</p>\n",
		               (unsigned long long)s->invariants_violated,
		               (unsigned long long)cells);
	else
		textbuf_printf(out, "<p class=\"meta\">%llu of %llu invariant checks violated, "
		               "%llu held.</p>\n", (unsigned long long)s->invariants_violated,
		               (unsigned long long)cells, (unsigned long long)s->invariants_held);
	textbuf_put(out, "<p class=\"meta\">faultline ");
	html_text(out, r->tool_version);
	textbuf_put(out, " · ");
	html_text(out, r->mode);
	textbuf_put(out, " run · ");
	if (r->determinism_checked)
		textbuf_printf(out, "determinism checked: %llu %s",
		               (unsigned long long)r->determinism_mismatches,
		               r->determinism_mismatches == 1 ? "mismatch" : "mismatches");
	else
		textbuf_put(out, "determinism not checked");
	textbuf_put(out, "</p>\n<ul class=\"stats\">");
	html_stat(out, "", s->results, s->results == 1 ? "scenario × variant run"
	                                               : "scenario × variant runs");
	html_stat(out, "", s->seeds_run, s->seeds_run == 1 ? "seed" : "seeds");
	html_stat(out, s->invariants_violated > 0 ? "bad" : "", s->invariants_violated,
	          "violated");
	html_stat(out, "good", s->invariants_held, "held");
	html_stat(out, "none", s->invariants_not_exercised, "not exercised");
	textbuf_put(out, "</ul>\n</div></header>\n");
}

/* Matrix ------------------------------------------------------------------- */

/* Anchor of a violation: result and invariant indexes, safe in any id. */
static void html_violation_id(struct textbuf *out, const struct report *r,
                              const struct report_result *res,
                              const struct report_invariant *inv)
{
	textbuf_printf(out, "v%zu-%zu", (size_t)(res - r->results),
	               (size_t)(inv - res->invariants));
}

static void html_cell(struct textbuf *out, const struct report *r, const char *scenario,
                      const char *variant, const char *name)
{
	const struct report_result *res = report_find_result(r, scenario, variant);
	const struct report_invariant *inv =
		res != NULL ? report_result_find_invariant(res, name) : NULL;
	if (inv == NULL) {
		textbuf_put(out, "<td class=\"cell absent\">— not run</td>");
		return;
	}
	switch (report_cell_of(res, inv)) {
	case REPORT_CELL_HELD:
		textbuf_put(out, "<td class=\"cell held\">✓ held</td>");
		break;
	case REPORT_CELL_VIOLATED:
		textbuf_put(out, "<td class=\"cell violated\"><a href=\"#");
		html_violation_id(out, r, res, inv);
		textbuf_printf(out, "\">✗ violated (%llu/%llu)</a></td>",
		               (unsigned long long)inv->violations,
		               (unsigned long long)res->seeds_run);
		break;
	case REPORT_CELL_NOT_EXERCISED:
		textbuf_put(out, "<td class=\"cell none\" title=\"");
		html_attr(out, res->not_exercised_reason != NULL ? res->not_exercised_reason
		                                                 : "no fault fired");
		textbuf_put(out, "\">○ not exercised</td>");
		break;
	}
}

static void html_matrix(struct textbuf *out, const struct report *r,
                        const struct report_matrix *m)
{
	textbuf_put(out, "<section id=\"matrix\"><h2>Fix × variant × invariant</h2>\n"
	            "<div class=\"scroll-x\"><table class=\"matrix\"><thead><tr>"
	            "<th>Scenario</th><th>Invariant</th>");
	for (size_t c = 0; c < m->ncolumns; c++) {
		textbuf_put(out, "<th>");
		html_text(out, m->columns[c]);
		textbuf_put(out, "</th>");
	}
	textbuf_put(out, "</tr></thead>\n<tbody>\n");
	for (size_t k = 0; k < m->nrows; k++) {
		const struct report_result *res = &r->results[m->rows[k].result];
		const char *name = res->invariants[m->rows[k].invariant].name;
		textbuf_put(out, "<tr>");
		if (m->rows[k].group_size > 0) {
			textbuf_printf(out, "<th class=\"group\" rowspan=\"%zu\">",
			               m->rows[k].group_size);
			html_text(out, res->scenario);
			textbuf_put(out, "<span class=\"fix\">fix: ");
			html_text(out, res->fix);
			textbuf_put(out, "</span></th>");
		}
		textbuf_put(out, "<td>");
		html_text(out, name);
		textbuf_put(out, "</td>");
		for (size_t c = 0; c < m->ncolumns; c++)
			html_cell(out, r, res->scenario, m->columns[c], name);
		textbuf_put(out, "</tr>\n");
	}
	textbuf_put(out, "</tbody></table></div>\n<p class=\"legend\">✓ held: no seed broke "
	            "the invariant · ✗ violated (N/M): N of M seeds broke it (click for the "
	            "first) · ○ not exercised: no fault fired and no race happened, so the "
	            "run proves nothing · — not run</p>\n</section>\n");
}

/* Timeline ----------------------------------------------------------------- */

static int html_lane_index(const char *lane)
{
	for (size_t i = 0; i < HTML_LANES; i++) {
		if (strcmp(html_lanes[i], lane) == 0)
			return (int)i;
	}
	return -1;
}

/* A time label: seconds with at most three decimals ("15.05 s") from one
 * second on, milliseconds with at most one below ("410.5 ms"). */
static void html_put_time_label(struct textbuf *out, uint64_t us)
{
	char num[48];
	const char *unit;
	if (us >= 1000000) {
		snprintf(num, sizeof num, "%llu.%03llu", (unsigned long long)(us / 1000000),
		         (unsigned long long)(us % 1000000 / 1000));
		unit = " s";
	} else {
		snprintf(num, sizeof num, "%llu.%01llu", (unsigned long long)(us / 1000),
		         (unsigned long long)(us % 1000 / 100));
		unit = " ms";
	}
	size_t n = strlen(num);
	while (n > 0 && num[n - 1] == '0')     /* "15.050" -> "15.05" */
		num[--n] = '\0';
	if (n > 0 && num[n - 1] == '.')
		num[--n] = '\0';
	textbuf_put(out, num);
	textbuf_put(out, unit);
}

/* The timeline's time axis compresses idle time: between two consecutive
 * distinct instants the axis advances by log10(1 + gap / 100 us), so a
 * burst of sub-millisecond events stays readable beside a minute of quiet.
 * Instants are the events' times and the violation's, sorted. */
struct html_axis {
	uint64_t t[REPORT_TIMELINE_MAX + 1];
	double pos[REPORT_TIMELINE_MAX + 1];
	size_t n;
	double total;
};

static int html_u64_compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double html_gap_advance(uint64_t gap_us)
{
	return log10(1.0 + (double)gap_us / 100.0);
}

static void html_axis_init(struct html_axis *ax, const struct report_invariant *inv)
{
	ax->n = 0;
	for (size_t i = 0; i < inv->ntimeline && i < REPORT_TIMELINE_MAX; i++)
		ax->t[ax->n++] = inv->timeline[i].t_us;
	ax->t[ax->n++] = inv->first_time_us;
	qsort(ax->t, ax->n, sizeof ax->t[0], html_u64_compare);
	size_t unique = 0;
	for (size_t i = 0; i < ax->n; i++) {
		if (unique == 0 || ax->t[i] != ax->t[unique - 1])
			ax->t[unique++] = ax->t[i];
	}
	ax->n = unique;
	ax->pos[0] = 0.0;
	for (size_t i = 1; i < ax->n; i++)
		ax->pos[i] = ax->pos[i - 1] + html_gap_advance(ax->t[i] - ax->t[i - 1]);
	ax->total = ax->pos[ax->n - 1];
}

static double html_axis_x(const struct html_axis *ax, uint64_t t)
{
	double w = TL_WIDTH - TL_LEFT - TL_RIGHT;
	if (ax->total <= 0.0)
		return TL_LEFT + w / 2.0;
	size_t lo = 0, hi = ax->n - 1;
	while (lo < hi) {                       /* binary search: log2(201) passes */
		size_t mid = (lo + hi) / 2;
		if (ax->t[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return TL_LEFT + w * ax->pos[lo] / ax->total;
}

/* Axis labels at the first instant and at the start of each burst (after a
 * gap of 10 ms or more) when they do not crowd the previous label; breaks
 * with the idle time written under gaps of 100 ms or more. */
static void html_axis_draw(struct textbuf *out, const struct html_axis *ax, int plot_bottom)
{
	double last_label_x = -1000.0;
	for (size_t i = 0; i < ax->n; i++) {
		double x = html_axis_x(ax, ax->t[i]);
		uint64_t gap = i > 0 ? ax->t[i] - ax->t[i - 1] : 0;
		if (i > 0 && gap >= 100000) {
			double px = html_axis_x(ax, ax->t[i - 1]);
			double mid = (px + x) / 2.0;
			textbuf_printf(out, "<path d=\"M%.1f %dl4 -8M%.1f %dl4 -8\" stroke=\"#8c959f\" "
			               "stroke-width=\"1.5\"/>", mid - 5, plot_bottom + 4, mid + 1,
			               plot_bottom + 4);
			if (x - px >= 64) {
				textbuf_printf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
				               "text-anchor=\"middle\" fill=\"#8c959f\">+", mid,
				               plot_bottom + 30);
				textbuf_put_duration_us(out, gap);
				textbuf_put(out, " idle</text>");
			}
			textbuf_put(out, "\n");
		}
		if ((i == 0 || gap >= 10000) && x - last_label_x >= 80) {
			textbuf_printf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			               "stroke=\"#d0d7de\"/><text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
			               "text-anchor=\"middle\" fill=\"#59636e\">", x, TL_TOP, x,
			               plot_bottom + 4, x, plot_bottom + 17);
			html_put_time_label(out, ax->t[i]);
			textbuf_put(out, "</text>\n");
			last_label_x = x;
		}
	}
}

static void html_timeline_svg(struct textbuf *out, const struct report_invariant *inv)
{
	bool other = false;
	for (size_t i = 0; i < inv->ntimeline; i++) {
		const struct report_event *ev = &inv->timeline[i];
		if (html_lane_index(ev->lane) < 0 && strcmp(ev->lane, "invariant") != 0)
			other = true;
	}
	struct html_axis *ax = malloc(sizeof *ax);
	if (ax == NULL) {
		out->failed = true;
		return;
	}
	html_axis_init(ax, inv);
	size_t nlanes = HTML_LANES + (other ? 1 : 0);
	int height = TL_TOP + (int)nlanes * TL_LANE_H + TL_BOTTOM;
	int plot_bottom = TL_TOP + (int)nlanes * TL_LANE_H;
	textbuf_printf(out, "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"timeline of "
	               "seed %llu\">\n", TL_WIDTH, height,
	               (unsigned long long)inv->first_seed);
	for (size_t l = 0; l < nlanes; l++) {
		int y = TL_TOP + (int)l * TL_LANE_H;
		textbuf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		               "fill=\"%s\"/>", TL_LEFT, y, TL_WIDTH - TL_LEFT - TL_RIGHT,
		               TL_LANE_H, l % 2 == 0 ? "#f6f8fa" : "#ffffff");
		textbuf_printf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\" "
		               "fill=\"%s\">%s</text>\n", TL_LEFT - 8, y + TL_LANE_H / 2 + 4,
		               l < HTML_LANES ? html_lane_colors[l] : HTML_OTHER_LANE_COLOR,
		               l < HTML_LANES ? html_lanes[l] : "other");
	}
	html_axis_draw(out, ax, plot_bottom);
	for (size_t i = 0; i < inv->ntimeline; i++) {
		const struct report_event *ev = &inv->timeline[i];
		if (strcmp(ev->lane, "invariant") == 0)
			continue;                 /* drawn as the violation marker */
		int lane = html_lane_index(ev->lane);
		size_t l = lane >= 0 ? (size_t)lane : HTML_LANES;
		const char *color = lane >= 0 ? html_lane_colors[lane] : HTML_OTHER_LANE_COLOR;
		double x = html_axis_x(ax, ev->t_us);
		double y = TL_TOP + (double)l * TL_LANE_H + TL_LANE_H / 2.0;
		bool fault = l == HTML_LANES - 1;   /* faults: a diamond, another shape */
		if (fault)
			textbuf_printf(out, "<path d=\"M%.1f %.1fl6 6l-6 6l-6 -6z\" fill=\"%s\">",
			               x, y - 6, color);
		else
			textbuf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" "
			               "fill-opacity=\"0.85\" stroke=\"#fff\" stroke-width=\"1\">",
			               x, y, color);
		textbuf_put(out, "<title>");
		textbuf_put_time_us(out, ev->t_us);
		textbuf_put(out, " ");
		html_text(out, ev->lane);
		textbuf_put(out, ": ");
		html_text(out, ev->label);
		textbuf_put(out, fault ? "</title></path>\n" : "</title></circle>\n");
	}
	double vx = html_axis_x(ax, inv->first_time_us);
	textbuf_printf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#cf222e\" "
	               "stroke-width=\"2.5\" stroke-dasharray=\"6 3\"/>", vx, TL_TOP - 12, vx,
	               plot_bottom);
	bool right = vx > TL_WIDTH / 2.0;
	textbuf_printf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" font-weight=\"700\" "
	               "text-anchor=\"%s\" fill=\"#cf222e\">✗ violation at ",
	               right ? vx + 4 : vx - 4, TL_TOP - 16, right ? "end" : "start");
	textbuf_put_time_us(out, inv->first_time_us);
	textbuf_put(out, "</text>\n</svg>\n<p class=\"sub\">Idle time is compressed on this "
	            "axis so that bursts stay readable; ● events by lane, ◆ injected faults, "
	            "dashed line: the violation.</p>\n");
	free(ax);
}

static const char *html_lane_color(const char *lane)
{
	int l = html_lane_index(lane);
	if (l >= 0)
		return html_lane_colors[l];
	return strcmp(lane, "invariant") == 0 ? "#cf222e" : HTML_OTHER_LANE_COLOR;
}

#define HTML_EVENT_COLS \
	"<colgroup><col class=\"c-t\"><col class=\"c-lane\"><col></colgroup>"

static void html_event_rows(struct textbuf *out, const struct report_invariant *inv,
                            size_t from, size_t to)
{
	textbuf_put(out, "<table>" HTML_EVENT_COLS "<tbody>\n");
	for (size_t i = from; i < to; i++) {
		const struct report_event *ev = &inv->timeline[i];
		bool is_inv = strcmp(ev->lane, "invariant") == 0;
		textbuf_printf(out, "<tr%s><td class=\"t\">", is_inv ? " class=\"inv\"" : "");
		textbuf_put_time_us(out, ev->t_us);
		textbuf_printf(out, "</td><td><span class=\"chip\" style=\"background:%s\"></span>",
		               html_lane_color(ev->lane));
		html_text(out, ev->lane);
		textbuf_put(out, "</td><td>");
		html_text(out, ev->label);
		textbuf_put(out, "</td></tr>\n");
	}
	textbuf_put(out, "</tbody></table>\n");
}

/* The events, the last TL_TABLE_TAIL in view (they led to the violation),
 * earlier ones folded away: no script needed to open them. */
static void html_event_table(struct textbuf *out, const struct report_invariant *inv)
{
	size_t n = inv->ntimeline;
	size_t tail = n > TL_TABLE_TAIL + 4 ? TL_TABLE_TAIL : n;
	textbuf_put(out, "<div class=\"events\">\n<table>" HTML_EVENT_COLS "<thead><tr>"
	            "<th>time</th><th>lane</th><th>event</th></tr></thead></table>\n");
	if (n > tail || inv->timeline_dropped > 0) {
		textbuf_printf(out, "<details><summary>%zu earlier events", n - tail);
		if (inv->timeline_dropped > 0)
			textbuf_printf(out, " (and %llu older ones not kept)",
			               (unsigned long long)inv->timeline_dropped);
		textbuf_put(out, "</summary>\n");
		html_event_rows(out, inv, 0, n - tail);
		textbuf_put(out, "</details>\n");
	}
	html_event_rows(out, inv, n - tail, n);
	textbuf_put(out, "</div>\n");
}

static void html_violation(struct textbuf *out, const struct report *r,
                           const struct report_result *res,
                           const struct report_invariant *inv)
{
	textbuf_put(out, "<article class=\"card violation\" id=\"");
	html_violation_id(out, r, res, inv);
	textbuf_put(out, "\"><h3>✗ ");
	html_text(out, inv->name);
	textbuf_put(out, " — ");
	html_text(out, res->scenario);
	textbuf_put(out, " / ");
	html_text(out, res->variant);
	textbuf_printf(out, "</h3>\n<p class=\"sub\">violated in %llu of %llu seeds "
	               "(seeds %llu–%llu)", (unsigned long long)inv->violations,
	               (unsigned long long)res->seeds_run, (unsigned long long)res->seed_min,
	               (unsigned long long)res->seed_max);
	if (inv->has_first_seed) {
		textbuf_printf(out, " · first failing seed <strong>%llu</strong> at t = ",
		               (unsigned long long)inv->first_seed);
		textbuf_put_time_us(out, inv->first_time_us);
	}
	textbuf_put(out, "</p>\n");
	if (inv->message != NULL) {
		textbuf_put(out, "<p class=\"message\">");
		html_text(out, inv->message);
		textbuf_put(out, "</p>\n");
	}
	if (inv->has_first_seed && inv->ntimeline > 0) {
		html_timeline_svg(out, inv);
		html_event_table(out, inv);
	}
	if (inv->replay != NULL) {
		textbuf_put(out, "<pre class=\"replay\"><code>");
		html_text(out, inv->replay);
		textbuf_put(out, "</code></pre>\n");
	}
	if (inv->shrunk_file != NULL) {
		textbuf_put(out, "<p class=\"sub\">shrunk: <code>");
		html_text(out, inv->shrunk_file);
		textbuf_put(out, "</code> (the smallest scenario that fails the same way)</p>\n");
	}
	if (res->trace_file != NULL) {
		textbuf_put(out, "<p class=\"sub\">trace: <code>");
		html_text(out, res->trace_file);
		textbuf_put(out, "</code></p>\n");
	}
	textbuf_put(out, "</article>\n");
}

/* Charts ------------------------------------------------------------------- */

static void html_series_legend(struct textbuf *out, const struct html_series *s, int y)
{
	int x = 0;
	for (size_t k = 0; k < s->n; k++) {
		textbuf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" rx=\"2\" "
		               "fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"11\">", x, y - 9,
		               s->color[k], x + 14, y);
		html_text(out, s->res[k]->variant);
		textbuf_put(out, "</text>");
		x += 22 + 7 * (int)strlen(s->res[k]->variant);
	}
	textbuf_put(out, "\n");
}

/* Faults fired: per kind, one bar per variant. */
static void html_fault_chart(struct textbuf *out, const struct html_series *s)
{
	const char *names[CHART_NAMES_MAX];
	size_t n = html_names_of(s, HTML_FAULTS, names);
	textbuf_put(out, "<figure><figcaption>Faults fired</figcaption>\n");
	if (n == 0) {
		textbuf_put(out, "<p class=\"sub\">No fault fired in any seed.</p></figure>\n");
		return;
	}
	uint64_t max = 1;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < s->n; k++) {
			uint64_t v = html_count_get(s->res[k], HTML_FAULTS, names[i]);
			if (v > max)
				max = v;
		}
	}
	const int bar_h = 10, gap = 2, label_h = 15, row_gap = 8, legend_h = 20;
	int row_h = label_h + (int)s->n * (bar_h + gap) + row_gap;
	int height = legend_h + (int)n * row_h;
	double bar_w = CHART_WIDTH - 60;
	textbuf_printf(out, "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"faults fired "
	               "by kind and variant\">\n", CHART_WIDTH, height);
	html_series_legend(out, s, 11);
	for (size_t i = 0; i < n; i++) {
		int y = legend_h + (int)i * row_h;
		textbuf_printf(out, "<text x=\"0\" y=\"%d\" font-size=\"12\" fill=\"#1f2328\">",
		               y + 11);
		html_text(out, names[i]);
		textbuf_put(out, "</text>\n");
		for (size_t k = 0; k < s->n; k++) {
			uint64_t v = html_count_get(s->res[k], HTML_FAULTS, names[i]);
			double w = bar_w * (double)v / (double)max;
			int by = y + label_h + (int)k * (bar_h + gap);
			textbuf_printf(out, "<rect x=\"0\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
			               "rx=\"2\" fill=\"%s\"><title>", by, w > 0 ? w : 0.5, bar_h,
			               s->color[k]);
			html_text(out, s->res[k]->variant);
			textbuf_printf(out, ": %llu</title></rect><text x=\"%.1f\" y=\"%d\" "
			               "font-size=\"10\" fill=\"#59636e\">%llu</text>\n",
			               (unsigned long long)v, w + 4, by + bar_h - 1,
			               (unsigned long long)v);
		}
	}
	textbuf_put(out, "</svg></figure>\n");
}

/* Request outcomes: one 100 % stacked bar per variant. */
static void html_outcome_chart(struct textbuf *out, const struct html_series *s)
{
	const char *names[CHART_NAMES_MAX];
	size_t n = html_names_of(s, HTML_OUTCOMES, names);
	textbuf_put(out, "<figure><figcaption>Request outcomes</figcaption>\n");
	if (n == 0) {
		textbuf_put(out, "<p class=\"sub\">No request recorded.</p></figure>\n");
		return;
	}
	const int row_h = 40, bar_h = 18;
	int legend_rows = (int)(n + 2) / 3;
	int height = (int)s->n * row_h + legend_rows * 16 + 6;
	textbuf_printf(out, "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"request "
	               "outcomes by variant\">\n", CHART_WIDTH, height);
	for (size_t k = 0; k < s->n; k++) {
		const struct report_result *res = s->res[k];
		uint64_t total = 0;
		for (size_t i = 0; i < n; i++)
			total += html_count_get(res, HTML_OUTCOMES, names[i]);
		int y = (int)k * row_h;
		textbuf_printf(out, "<text x=\"0\" y=\"%d\" font-size=\"12\" font-weight=\"600\">",
		               y + 12);
		html_text(out, res->variant);
		textbuf_printf(out, "<tspan font-weight=\"400\" fill=\"#59636e\"> · %llu "
		               "requests</tspan></text>\n", (unsigned long long)total);
		double x = 0;
		for (size_t i = 0; i < n && total > 0; i++) {
			uint64_t v = html_count_get(res, HTML_OUTCOMES, names[i]);
			if (v == 0)
				continue;
			double w = CHART_WIDTH * (double)v / (double)total;
			textbuf_printf(out, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
			               "fill=\"%s\"><title>", x, y + 17, w, bar_h,
			               html_outcome_color(names[i], i));
			html_text(out, names[i]);
			textbuf_printf(out, ": %llu</title></rect>", (unsigned long long)v);
			/* A label only where it fits: the legend names the rest. */
			if (w >= 34) {
				textbuf_printf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
				               "fill=\"#fff\" text-anchor=\"middle\">%llu</text>",
				               x + w / 2, y + 30, (unsigned long long)v);
			}
			x += w;
		}
		textbuf_put(out, "\n");
	}
	int ly = (int)s->n * row_h + 8;
	for (size_t i = 0; i < n; i++) {
		int col = (int)(i % 3), row = (int)(i / 3);
		int x = col * (CHART_WIDTH / 3), y = ly + row * 16;
		textbuf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" rx=\"2\" "
		               "fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"11\">", x, y,
		               html_outcome_color(names[i], i), x + 14, y + 9);
		html_text(out, names[i]);
		textbuf_put(out, "</text>\n");
	}
	textbuf_put(out, "</svg></figure>\n");
}

/* Latency: p50, p90, p99 and max per variant on a log scale. */
static void html_latency_chart(struct textbuf *out, const struct html_series *s)
{
	textbuf_put(out, "<figure><figcaption>Request latency (simulated)</figcaption>\n");
	uint64_t hi = 0;
	for (size_t k = 0; k < s->n; k++) {
		uint64_t m = report_hist_percentile(s->res[k]->latency_hist, 1.0);
		if (m > hi)
			hi = m;
	}
	if (hi == 0) {
		textbuf_put(out, "<p class=\"sub\">No latency recorded.</p></figure>\n");
		return;
	}
	/* Decades from 100 us up to the first one at or above the max. */
	uint64_t lo_us = 100, top_us = 1000;
	unsigned decades = 1;
	while (top_us < hi && decades < 12) {
		top_us *= 10;
		decades++;
	}
	static const char *const labels[] = {"p50", "p90", "p99", "max"};
	static const double qs[] = {0.50, 0.90, 0.99, 1.0};
	const int bar_h = 9, gap = 2, head_h = 16, group_gap = 8, axis_h = 18;
	const int left = 30, right = 72;
	int group_h = head_h + 4 * (bar_h + gap) + group_gap;
	int height = (int)s->n * group_h + axis_h;
	double w = CHART_WIDTH - left - right;
	double lo_log = log10((double)lo_us), span_log = (double)decades;
	textbuf_printf(out, "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"request "
	               "latency percentiles by variant\">\n", CHART_WIDTH, height);
	int plot_bottom = (int)s->n * group_h;
	for (unsigned d = 0; d <= decades; d++) {
		double x = left + w * d / span_log;
		uint64_t v = lo_us;
		for (unsigned i = 0; i < d; i++)
			v *= 10;
		textbuf_printf(out, "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%d\" "
		               "stroke=\"#eaeef2\"/><text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
		               "text-anchor=\"middle\" fill=\"#59636e\">", x, x, plot_bottom, x,
		               plot_bottom + 13);
		textbuf_put_duration_us(out, v);
		textbuf_put(out, "</text>\n");
	}
	for (size_t k = 0; k < s->n; k++) {
		const struct report_result *res = s->res[k];
		int y = (int)k * group_h;
		textbuf_printf(out, "<text x=\"0\" y=\"%d\" font-size=\"12\" font-weight=\"600\">",
		               y + 12);
		html_text(out, res->variant);
		textbuf_put(out, "</text>\n");
		if (report_hist_total(res->latency_hist) == 0)
			continue;
		for (size_t p = 0; p < 4; p++) {
			uint64_t v = report_hist_percentile(res->latency_hist, qs[p]);
			double lv = v > lo_us ? log10((double)v) - lo_log : 0.0;
			double bw = w * lv / span_log;
			int by = y + head_h + (int)p * (bar_h + gap);
			textbuf_printf(out, "<text x=\"0\" y=\"%d\" font-size=\"10\" "
			               "fill=\"#59636e\">%s</text><rect x=\"%d\" y=\"%d\" "
			               "width=\"%.1f\" height=\"%d\" rx=\"2\" fill=\"%s\" "
			               "fill-opacity=\"%.2f\"/><text x=\"%.1f\" y=\"%d\" "
			               "font-size=\"10\" fill=\"#1f2328\">", by + 8, labels[p],
			               left, by, bw > 1 ? bw : 1.0, bar_h, s->color[k],
			               0.55 + 0.15 * (double)p, left + (bw > 1 ? bw : 1.0) + 4,
			               by + 8);
			textbuf_put(out, "≤ ");   /* a bucket's upper bound */
			textbuf_put_duration_us(out, v);
			textbuf_put(out, "</text>\n");
		}
	}
	textbuf_put(out, "</svg></figure>\n");
}

static void html_counts_inline(struct textbuf *out, const struct report_count *c, size_t n)
{
	if (n == 0) {
		textbuf_put(out, "—");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			textbuf_put(out, ", ");
		textbuf_put(out, "<code>");
		html_text(out, c[i].name);
		textbuf_printf(out, "</code> %llu", (unsigned long long)c[i].count);
	}
}

static void html_facts(struct textbuf *out, const struct html_series *s)
{
	textbuf_put(out, "<div class=\"scroll-x\"><table class=\"facts\"><thead><tr>"
	            "<th>variant</th><th>seeds</th><th>exercised</th>"
	            "<th>duplicates let through</th><th>log tags</th><th>trace</th>"
	            "</tr></thead><tbody>\n");
	for (size_t k = 0; k < s->n; k++) {
		const struct report_result *res = s->res[k];
		textbuf_printf(out, "<tr><td><span class=\"chip\" style=\"background:%s\"></span>",
		               s->color[k]);
		html_text(out, res->variant);
		textbuf_printf(out, "</td><td>%llu (%llu–%llu)</td><td>",
		               (unsigned long long)res->seeds_run,
		               (unsigned long long)res->seed_min,
		               (unsigned long long)res->seed_max);
		if (res->exercised) {
			textbuf_put(out, "yes");
		} else {
			textbuf_put(out, "no: ");
			html_text(out, res->not_exercised_reason != NULL
			          ? res->not_exercised_reason : "no fault fired");
		}
		textbuf_put(out, "</td><td>");
		html_u64(out, res->duplicates_let_through);
		textbuf_put(out, "</td><td>");
		html_counts_inline(out, res->log_tags, res->nlog_tags);
		textbuf_put(out, "</td><td>");
		if (res->trace_file != NULL) {
			textbuf_put(out, "<code>");
			html_text(out, res->trace_file);
			textbuf_put(out, "</code>");
		} else {
			textbuf_put(out, "—");
		}
		textbuf_put(out, "</td></tr>\n");
	}
	textbuf_put(out, "</tbody></table></div>\n");
}

static void html_scenarios(struct textbuf *out, const struct report *r,
                           const struct report_matrix *m)
{
	textbuf_put(out, "<section id=\"scenarios\"><h2>Scenarios: faults, outcomes and "
	            "latency per variant</h2>\n");
	for (size_t k = 0; k < m->nrows; k++) {
		if (m->rows[k].group_size == 0)
			continue;
		const struct report_result *first = &r->results[m->rows[k].result];
		struct html_series s;
		html_series_of(r, m, first->scenario, &s);
		textbuf_put(out, "<article class=\"card\"><h3>");
		html_text(out, first->scenario);
		textbuf_put(out, "</h3>\n<p class=\"sub\">fix ");
		html_text(out, first->fix);
		textbuf_put(out, " · <code>");
		html_text(out, first->file);
		textbuf_put(out, "</code></p>\n<div class=\"charts\">\n");
		html_fault_chart(out, &s);
		html_outcome_chart(out, &s);
		html_latency_chart(out, &s);
		textbuf_put(out, "</div>\n");
		html_facts(out, &s);
		textbuf_put(out, "</article>\n");
	}
	/* A scenario with no invariant has no matrix row: still show it. */
	for (size_t i = 0; i < r->nresults; i++) {
		if (r->results[i].ninvariants > 0)
			continue;
		textbuf_put(out, "<p class=\"sub\">");
		html_text(out, r->results[i].scenario);
		textbuf_put(out, " / ");
		html_text(out, r->results[i].variant);
		textbuf_put(out, ": no invariant checked.</p>\n");
	}
	textbuf_put(out, "</section>\n");
}

static void html_files(struct textbuf *out, const struct report *r)
{
	textbuf_put(out, "<section id=\"files\"><h2>Scenario files</h2>\n<ul class=\"files\">\n");
	for (size_t i = 0; i < r->nfiles; i++) {
		textbuf_put(out, "<li><code>");
		html_text(out, r->files[i].path);
		textbuf_put(out, "</code> sha256 <code>");
		html_text(out, r->files[i].sha256);
		textbuf_put(out, "</code></li>\n");
	}
	if (r->nfiles == 0)
		textbuf_put(out, "<li>none listed</li>\n");
	textbuf_put(out, "</ul>\n</section>\n");
}

/* One fix's table: a column per variant, summed over its scenarios; a
 * row with a declared cell never reached is highlighted. */
static void html_coverage_table(struct textbuf *out, const struct report_cov_table *t)
{
	textbuf_put(out, "<h3>");
	html_text(out, t->fix);
	textbuf_printf(out, ": %zu %s", t->nrows, t->nrows == 1 ? "cell" : "cells");
	if (t->never > 0)
		textbuf_printf(out, ", <strong class=\"never\">%zu never reached</strong>", t->never);
	textbuf_put(out, "</h3>\n<table class=\"coverage\"><tr><th>cell</th>");
	for (size_t c = 0; c < t->ncolumns; c++) {
		textbuf_put(out, "<th>");
		html_text(out, t->others && c + 1 == t->ncolumns ? "others" : t->column[c]);
		textbuf_put(out, "</th>");
	}
	textbuf_put(out, "</tr>\n");
	for (size_t k = 0; k < t->nrows; k++) {
		const struct report_cov_row *row = &t->rows[k];
		textbuf_put(out, row->never ? "<tr class=\"never\"><td><code>" : "<tr><td><code>");
		html_text(out, row->cell);
		textbuf_put(out, "</code></td>");
		for (size_t c = 0; c < t->ncolumns; c++) {
			if (row->state[c] == REPORT_COV_NEVER)
				textbuf_put(out, "<td>never reached</td>");
			else if (row->state[c] == REPORT_COV_ABSENT)
				textbuf_put(out, "<td>·</td>");
			else {
				textbuf_put(out, "<td>");
				html_u64(out, row->count[c]);
				textbuf_put(out, "</td>");
			}
		}
		textbuf_put(out, "</tr>\n");
	}
	textbuf_put(out, "</table>\n");
}

/* Coverage: a table per result in a fold; a declared cell never reached
 * is highlighted and counted in the fold's title. */
static void html_coverage(struct textbuf *out, const struct report *r)
{
	bool any = false;
	for (size_t i = 0; i < r->nresults && !any; i++)
		any = r->results[i].ncoverage > 0;
	if (!any)
		return;
	textbuf_put(out, "<section id=\"coverage\"><h2>Coverage</h2>\n<p>How often each "
	                 "fault fired (<code>target.op:kind</code>), each server answer was "
	                 "given (<code>target.op=class</code>) and each declared outcome was "
	                 "reached, over all seeds.</p>\n");
	struct report_cov_table *t;
	size_t nt;
	if (report_coverage_tables(r, &t, &nt) == RESULT_OK) {
		for (size_t j = 0; j < nt; j++)
			html_coverage_table(out, &t[j]);
		report_coverage_tables_free(t, nt);
	}
	textbuf_put(out, "<h3>By result</h3>\n");
	for (size_t i = 0; i < r->nresults; i++) {
		const struct report_result *res = &r->results[i];
		if (res->ncoverage == 0)
			continue;
		size_t never = 0;
		for (size_t k = 0; k < res->ncoverage; k++)
			never += res->coverage[k].count == 0;
		textbuf_put(out, "<details><summary>");
		html_text(out, res->scenario);
		textbuf_put(out, " · ");
		html_text(out, res->variant);
		textbuf_printf(out, ": %zu %s", res->ncoverage, res->ncoverage == 1 ? "cell" : "cells");
		if (never > 0)
			textbuf_printf(out, ", <strong class=\"never\">%zu never reached</strong>", never);
		textbuf_put(out, "</summary>\n<table><tr><th>cell</th><th>reached</th></tr>\n");
		for (size_t k = 0; k < res->ncoverage; k++) {
			bool zero = res->coverage[k].count == 0;
			textbuf_put(out, zero ? "<tr class=\"never\"><td><code>" : "<tr><td><code>");
			html_text(out, res->coverage[k].name);
			textbuf_put(out, "</code></td><td>");
			if (zero)
				textbuf_put(out, "never reached");
			else
				html_u64(out, res->coverage[k].count);
			textbuf_put(out, "</td></tr>\n");
		}
		textbuf_put(out, "</table></details>\n");
	}
	textbuf_put(out, "</section>\n");
}

enum result report_format_html(const struct report *r, struct textbuf *out)
{
	ASSERT(r != NULL);
	ASSERT(out != NULL);
	struct report_matrix m;
	if (report_matrix_init(&m, r) != RESULT_OK)
		return RESULT_NOMEM;
	struct report_summary s;
	report_summarize(r, &s);
	textbuf_put(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
	textbuf_printf(out, "<title>faultline report: %s</title>\n",
	               s.invariants_violated > 0 ? "violated" : "held");
	textbuf_put(out, "<style>\n.never{background:#fde2e1;color:#8a1c1c}\n");
	textbuf_put(out, html_style);
	textbuf_put(out, "</style>\n</head>\n<body>\n");
	html_header(out, r, &s);
	textbuf_put(out, "<main>\n");
	html_matrix(out, r, &m);
	if (s.invariants_violated > 0) {
		textbuf_put(out, "<section id=\"violations\"><h2>Violations</h2>\n");
		for (size_t k = 0; k < m.nrows; k++) {
			const char *scenario = r->results[m.rows[k].result].scenario;
			const char *name =
				r->results[m.rows[k].result].invariants[m.rows[k].invariant].name;
			for (size_t c = 0; c < m.ncolumns; c++) {
				const struct report_result *res =
					report_find_result(r, scenario, m.columns[c]);
				const struct report_invariant *inv =
					res != NULL ? report_result_find_invariant(res, name) : NULL;
				if (inv != NULL && inv->violations > 0)
					html_violation(out, r, res, inv);
			}
		}
		textbuf_put(out, "</section>\n");
	}
	html_scenarios(out, r, &m);
	html_coverage(out, r);
	html_files(out, r);
	textbuf_put(out, "</main>\n</body>\n</html>\n");
	report_matrix_fini(&m);
	return out->failed ? RESULT_NOMEM : RESULT_OK;
}

enum result report_write_html(const struct report *r, const char *path, char *err,
                              size_t errsize)
{
	struct textbuf tb;
	textbuf_init(&tb);
	enum result rc = report_format_html(r, &tb);
	if (rc == RESULT_OK || rc == RESULT_NOMEM)
		rc = report_file_write_text(path, &tb, err, errsize);
	textbuf_fini(&tb);
	return rc;
}
