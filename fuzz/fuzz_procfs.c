// fuzz-sources: lib/procfs.c lib/perfmap.c
/* libFuzzer target: every pure /proc parser (and the perf-map line parser)
 * takes whatever bytes it is given without reading past them, and what it
 * accepts is well formed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfmap.h"
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_stat(const char *raw, size_t size)
{
	struct fgt_proc_stat st;
	if (fgt_procfs_parse_stat(raw, size, &st) != 0)
		return;
	if (memchr(st.comm, '\0', sizeof(st.comm)) == NULL || st.pid <= 0 ||
	    st.ppid < 0 || st.pgrp < 0 || st.num_threads < 0)
		abort();
	if (!((st.state >= 'A' && st.state <= 'Z') ||
	      (st.state >= 'a' && st.state <= 'z')))
		abort();
}

static void check_status(const char *raw, size_t size)
{
	struct fgt_proc_status st;
	if (fgt_procfs_parse_status(raw, size, &st) == 0 &&
	    (st.tgid < 0 || st.tracer_pid < 0 || st.ns_pid < 0))
		abort();
}

static void check_maps_line(const char *str, size_t size)
{
	char *line = malloc(size + 1);
	if (!line)
		abort();
	memcpy(line, str, size + 1);
	struct fgt_map m;
	if (fgt_procfs_parse_maps_line(line, &m) == 0) {
		if (m.start > m.end || strlen(m.perms) != 4 || !m.path)
			abort();
		if (*m.path && (m.path < line || m.path > line + size))
			abort();
	}
	free(line);
}

/* Small output buffers too, so that the -ERANGE paths run. */
static void check_tcp_line(const char *str, size_t size)
{
	size_t caps[] = {64, size % 64};
	for (size_t i = 0; i < 2; i++) {
		unsigned long inode;
		char local[64], remote[64];
		size_t cap = caps[i];
		if (fgt_procfs_parse_tcp_line(str, &inode, local, cap, remote, cap) != 0)
			continue;
		if (strnlen(local, cap) == cap || strnlen(remote, cap) == cap)
			abort();
		if (!strchr(local, ':') || !strchr(remote, ':'))
			abort();
	}
}

static void check_perfmap_line(const char *str, size_t size)
{
	char *line = malloc(size + 1);
	if (!line)
		abort();
	memcpy(line, str, size + 1);
	uint64_t start, len;
	const char *name;
	if (fgt_perfmap_parse_line(line, &start, &len, &name) == 0 && (!*name || !len))
		abort();
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy without a NUL, so that ASan sees any read past the
	 * end, and a NUL-terminated one for the line parsers. */
	char *raw = malloc(size ? size : 1);
	char *str = malloc(size + 1);
	if (!raw || !str)
		abort();
	memcpy(raw, data, size);
	memcpy(str, data, size);
	str[size] = '\0';

	check_stat(raw, size);
	check_status(raw, size);
	uint64_t run, wait, slices;
	fgt_procfs_parse_schedstat(raw, size, &run, &wait, &slices);
	struct fgt_proc_syscall sc;
	if (fgt_procfs_parse_syscall(raw, size, &sc) == 0 && !sc.running && sc.nr < -1)
		abort(); /* only -1 or a syscall number */
	check_maps_line(str, size);
	check_tcp_line(str, size);
	check_perfmap_line(str, size);

	free(raw);
	free(str);
	return 0;
}
