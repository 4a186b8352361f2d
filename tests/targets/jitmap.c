/* Generated code named by a perf map, for the symbol tests. Copies a small
 * x86-64 counting loop into anonymous executable memory, writes
 * /tmp/perf-PID.map naming it "jit_alpha", prints "ready" and spends its time
 * in it. On a line "grow" it maps a second region with "jit_beta", appends
 * that to the map, prints "grown" and spends its time there. Exits 0 on "q"
 * or EOF, removing its map. With argument "nomap" it writes no map. With
 * "remap" it maps a page of its own executable again 1 GiB above itself, as
 * V8 does with its builtins, and puts the generated code 512 MiB above
 * itself: between two mappings of one file, with no other file between them.
 * x86-64 only. */
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* mov %rdi,%rax; 1: dec %rax; jnz 1b; ret */
static const unsigned char countdown[] = {0x48, 0x89, 0xf8, 0x48, 0xff,
					  0xc8, 0x75, 0xfb, 0xc3};

typedef long (*generated_fn)(long);

static char map_path[64];
static bool write_map = true;
static uintptr_t code_at; /* where to put generated code, or 0: anywhere */

static generated_fn generate(void)
{
	void *p = mmap((void *)code_at, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (code_at ? MAP_FIXED_NOREPLACE : 0),
		       -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, countdown, sizeof(countdown));
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
		return NULL;
	if (code_at)
		code_at += 4096;
	return (generated_fn)p;
}

static bool name_code(generated_fn fn, const char *name)
{
	if (!write_map)
		return true;
	FILE *f = fopen(map_path, "a");
	if (!f)
		return false;
	fprintf(f, "%lx %zx %s\n", (unsigned long)fn, sizeof(countdown), name);
	return fclose(f) == 0;
}

/* The next command on stdin, or 0 while there is none; 'q' at EOF. */
static int poll_command(void)
{
	struct pollfd pfd = {.fd = 0, .events = POLLIN};
	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return 'q';
	return strcmp(line, "grow\n") == 0 ? 'g' : strcmp(line, "q\n") == 0 ? 'q' : 0;
}

__attribute__((noinline)) static int run_generated(generated_fn fn)
{
	int cmd;
	while ((cmd = poll_command()) == 0)
		fn(5 * 1000 * 1000);
	return cmd;
}

/* Maps the executable's second page once more, 1 GiB above the executable,
 * and sets code_at 512 MiB above it. */
static bool remap_self(void)
{
	uintptr_t self = (uintptr_t)&write_map & ~(uintptr_t)4095;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	void *p = mmap((void *)(self + (1ul << 30)), 4096, PROT_READ | PROT_EXEC,
		       MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 4096);
	close(fd);
	code_at = self + (1ul << 29);
	return p != MAP_FAILED;
}

int main(int argc, char **argv)
{
	write_map = !(argc > 1 && strcmp(argv[1], "nomap") == 0);
	if (argc > 1 && strcmp(argv[1], "remap") == 0 && !remap_self()) {
		perror("jitmap: remap");
		return 1;
	}
	snprintf(map_path, sizeof(map_path), "/tmp/perf-%d.map", (int)getpid());
	setvbuf(stdin, NULL, _IONBF, 0); /* poll must see every line */
	generated_fn alpha = generate();
	if (!alpha || !name_code(alpha, "jit_alpha")) {
		perror("jitmap");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	int cmd = run_generated(alpha);
	if (cmd == 'g') {
		generated_fn beta = generate();
		if (!beta || !name_code(beta, "jit_beta")) {
			perror("jitmap");
			return 1;
		}
		printf("grown\n");
		fflush(stdout);
		while ((cmd = run_generated(beta)) != 'q')
			;
	}
	if (write_map)
		unlink(map_path);
	return 0;
}
