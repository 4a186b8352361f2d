/* fgtrace — JIT symbol maps: /tmp/perf-PID.map.
 *
 * The format written by Node's --perf-basic-prof, Java's perf-map-agent and
 * others: one "START SIZE NAME" line per symbol, START and SIZE in hex. The
 * map grows while the program runs; it is re-read when the file grows.
 */
#ifndef FGT_PERFMAP_H
#define FGT_PERFMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fgt_perfmap;

/* Creates a reader for path (which may not exist yet). Returns 0 or -ENOMEM. */
int fgt_perfmap_new(const char *path, struct fgt_perfmap **out);
void fgt_perfmap_free(struct fgt_perfmap *m);

/* Parses one line into start, size and name (a pointer into line, whose
 * trailing newline is cut). Returns 0 or -EINVAL. */
int fgt_perfmap_parse_line(char *line, uint64_t *start, uint64_t *size,
			   const char **name);

/* Re-reads the file if it grew since the last read. Returns 0 or -errno
 * (-ENOENT when there is no map). */
int fgt_perfmap_refresh(struct fgt_perfmap *m);

/* The symbol covering addr: its name (owned by the map, valid until the next
 * refresh) and start. NULL when none. */
const char *fgt_perfmap_lookup(const struct fgt_perfmap *m, uint64_t addr,
			       uint64_t *start);

/* Entries loaded. */
size_t fgt_perfmap_size(const struct fgt_perfmap *m);

#endif
