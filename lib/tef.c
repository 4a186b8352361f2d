/* fgtrace — Trace Event Format writer. */
#include "tef.h"
#include "hashmap.h"
#include "json.h"
#include "output.h"
#include "strbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The parts of a B event that never change for one function. */
struct func_json {
	char *name_cat; /* "name":"...","cat":"..." */
	char *args;	/* "module":...,"file":...,"line":N (no braces), or "" */
};

struct fgt_tef {
	struct fgt_output *out;
	struct fgt_strbuf buf;
	struct fgt_hashmap funcs; /* func id -> struct func_json */
	bool first;
	bool source_line;
};

int fgt_tef_new(struct fgt_output *out, bool source_line, struct fgt_tef **tef)
{
	struct fgt_tef *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->out = out;
	t->first = true;
	t->source_line = source_line;
	fgt_strbuf_init(&t->buf);
	fgt_hashmap_init(&t->funcs);
	*tef = t;
	return fgt_output_write(out, "[", 1);
}

void fgt_tef_free(struct fgt_tef *t)
{
	if (!t)
		return;
	struct func_json *fj;
	for (size_t i = 0; (fj = fgt_hashmap_next(&t->funcs, &i));) {
		free(fj->name_cat);
		free(fj->args);
		free(fj);
	}
	fgt_hashmap_free(&t->funcs);
	fgt_strbuf_free(&t->buf);
	free(t);
}

static struct fgt_strbuf *start(struct fgt_tef *t)
{
	fgt_strbuf_reset(&t->buf);
	fgt_strbuf_puts(&t->buf, t->first ? "\n{" : ",\n{");
	t->first = false;
	return &t->buf;
}

static int emit(struct fgt_tef *t)
{
	fgt_strbuf_putc(&t->buf, '}');
	if (t->buf.oom)
		return -ENOMEM;
	return fgt_output_write(t->out, t->buf.s, t->buf.len);
}

static void put_ts(struct fgt_strbuf *b, uint64_t ts_ns)
{
	fgt_strbuf_printf(b, "\"ts\":%" PRIu64 ".%03u", ts_ns / 1000,
			  (unsigned)(ts_ns % 1000));
}

static int meta(struct fgt_tef *t, const char *what, pid_t pid, pid_t tid,
		const char *name, long index)
{
	struct fgt_strbuf *b = start(t);
	fgt_strbuf_printf(b,
			  "\"name\":\"%s\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{",
			  what, pid, tid);
	if (name) {
		fgt_strbuf_puts(b, "\"name\":");
		fgt_json_cstring(b, name);
	} else {
		fgt_strbuf_printf(b, "\"sort_index\":%ld", index);
	}
	fgt_strbuf_putc(b, '}');
	return emit(t);
}

int fgt_tef_process_name(struct fgt_tef *t, pid_t pid, const char *name)
{
	return meta(t, "process_name", pid, pid, name, 0);
}

int fgt_tef_thread_name(struct fgt_tef *t, pid_t pid, pid_t tid, const char *name)
{
	return meta(t, "thread_name", pid, tid, name, 0);
}

int fgt_tef_thread_sort_index(struct fgt_tef *t, pid_t pid, pid_t tid, long index)
{
	return meta(t, "thread_sort_index", pid, tid, NULL, index);
}

static const char *cat_of(const struct fgt_func *f)
{
	switch (f->kind) {
	case FGT_FUNC_INLINE:
		return "inline";
	case FGT_FUNC_STATE:
		return "state";
	default:
		return "function";
	}
}

static struct func_json *func_json(struct fgt_tef *t, const struct fgt_func *f)
{
	struct func_json *fj = fgt_hashmap_get(&t->funcs, f->id);
	if (fj)
		return fj;
	fj = calloc(1, sizeof(*fj));
	if (!fj)
		return NULL;
	struct fgt_strbuf b;
	fgt_strbuf_init(&b);
	fgt_strbuf_puts(&b, "\"name\":");
	fgt_json_cstring(&b, f->name);
	fgt_strbuf_printf(&b, ",\"cat\":\"%s\"", cat_of(f));
	fj->name_cat = b.oom ? NULL : strdup(b.s);
	fgt_strbuf_reset(&b);
	/* Only facts that are constant for the function, so viewers that key
	 * frames by name and args merge them. */
	if (f->module) {
		fgt_strbuf_puts(&b, "\"module\":");
		fgt_json_cstring(&b, f->module->name);
	}
	if (f->detail_json) {
		fgt_strbuf_puts(&b, f->detail_json);
	}
	if (f->file) {
		fgt_strbuf_puts(&b, b.len ? ",\"file\":" : "\"file\":");
		fgt_json_cstring(&b, f->file);
		if (f->line > 0)
			fgt_strbuf_printf(&b, ",\"line\":%d", f->line);
	}
	fj->args = b.oom ? NULL : strdup(b.len ? b.s : "");
	fgt_strbuf_free(&b);
	if (!fj->name_cat || !fj->args || fgt_hashmap_put(&t->funcs, f->id, fj) < 0) {
		free(fj->name_cat);
		free(fj->args);
		free(fj);
		return NULL;
	}
	return fj;
}

int fgt_tef_begin(struct fgt_tef *t, pid_t pid, pid_t tid, uint64_t ts_ns,
		  const struct fgt_func *f, int line)
{
	struct func_json *fj = func_json(t, f);
	if (!fj)
		return -ENOMEM;
	struct fgt_strbuf *b = start(t);
	fgt_strbuf_puts(b, fj->name_cat);
	fgt_strbuf_puts(b, ",\"ph\":\"B\",");
	put_ts(b, ts_ns);
	fgt_strbuf_printf(b, ",\"pid\":%d,\"tid\":%d", pid, tid);
	bool with_line = t->source_line && line > 0;
	if (*fj->args || with_line) {
		fgt_strbuf_puts(b, ",\"args\":{");
		fgt_strbuf_puts(b, fj->args);
		if (with_line)
			fgt_strbuf_printf(b, "%s\"sampled_line\":%d",
					  *fj->args ? "," : "", line);
		fgt_strbuf_putc(b, '}');
	}
	return emit(t);
}

int fgt_tef_end(struct fgt_tef *t, pid_t pid, pid_t tid, uint64_t ts_ns,
		const struct fgt_func *f)
{
	struct func_json *fj = func_json(t, f);
	if (!fj)
		return -ENOMEM;
	struct fgt_strbuf *b = start(t);
	fgt_strbuf_puts(b, fj->name_cat);
	fgt_strbuf_puts(b, ",\"ph\":\"E\",");
	put_ts(b, ts_ns);
	fgt_strbuf_printf(b, ",\"pid\":%d,\"tid\":%d", pid, tid);
	return emit(t);
}

int fgt_tef_instant(struct fgt_tef *t, pid_t pid, pid_t tid, uint64_t ts_ns,
		    const char *name, const char *args_json)
{
	struct fgt_strbuf *b = start(t);
	fgt_strbuf_puts(b, "\"name\":");
	fgt_json_cstring(b, name);
	fgt_strbuf_puts(b, ",\"cat\":\"thread\",\"ph\":\"i\",\"s\":\"t\",");
	put_ts(b, ts_ns);
	fgt_strbuf_printf(b, ",\"pid\":%d,\"tid\":%d", pid, tid);
	if (args_json)
		fgt_strbuf_printf(b, ",\"args\":%s", args_json);
	return emit(t);
}

int fgt_tef_counter(struct fgt_tef *t, pid_t pid, uint64_t ts_ns, const char *name,
		    const char *series, double value)
{
	struct fgt_strbuf *b = start(t);
	fgt_strbuf_puts(b, "\"name\":");
	fgt_json_cstring(b, name);
	fgt_strbuf_puts(b, ",\"ph\":\"C\",");
	put_ts(b, ts_ns);
	fgt_strbuf_printf(b, ",\"pid\":%d,\"tid\":%d,\"args\":{", pid, pid);
	fgt_json_cstring(b, series);
	fgt_strbuf_printf(b, ":%g}", value);
	return emit(t);
}

int fgt_tef_metadata(struct fgt_tef *t, pid_t pid, const char *args_json)
{
	struct fgt_strbuf *b = start(t);
	fgt_strbuf_printf(
	    b, "\"name\":\"fgtrace\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":%s", pid,
	    pid, args_json);
	return emit(t);
}

int fgt_tef_finish(struct fgt_tef *t)
{
	return fgt_output_write(t->out, "\n]\n", 3);
}
