// fuzz-sources: lib/procfs.c lib/perfmap.c
/* libFuzzer target: the /proc parsers and the perf-map line parser take
 * whatever bytes they are given without reading past them or crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfmap.h"
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copies, so that ASan sees any read past the end. */
	char *raw = malloc(size ? size : 1);
	char *str = malloc(size + 1);
	if (!raw || !str)
		abort();
	memcpy(raw, data, size);
	memcpy(str, data, size);
	str[size] = '\0';

	struct fgt_proc_stat st;
	if (fgt_procfs_parse_stat(raw, size, &st) == 0 &&
	    strlen(st.comm) >= sizeof(st.comm))
		abort();
	struct fgt_proc_status ps;
	fgt_procfs_parse_status(raw, size, &ps);
	uint64_t a, b, c;
	fgt_procfs_parse_schedstat(raw, size, &a, &b, &c);

	char *line = strdup(str);
	struct fgt_map m;
	if (fgt_procfs_parse_maps_line(line, &m) == 0 && (m.start > m.end || !m.path))
		abort();
	free(line);

	unsigned long inode;
	char local[64], remote[64];
	fgt_procfs_parse_tcp_line(str, &inode, local, sizeof(local), remote,
				  sizeof(remote));

	line = strdup(str);
	uint64_t start, len;
	const char *name;
	if (fgt_perfmap_parse_line(line, &start, &len, &name) == 0 && (!*name || !len))
		abort();
	free(line);
	free(raw);
	free(str);
	return 0;
}
