/* dlopen during a capture, for the symbol tests. Usage: dlopener LIB.
 * Prints "ready", waits for a line on stdin, then dlopens LIB, calls its
 * dlwork_run(1000) (about one second in the library), prints "done" and
 * exits 0 on "q" or EOF. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	char line[64];
	if (argc < 2) {
		fprintf(stderr, "usage: dlopener LIB\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	void *lib = dlopen(argv[1], RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "dlopener: %s\n", dlerror());
		return 1;
	}
	unsigned long (*run)(unsigned) =
	    (unsigned long (*)(unsigned))dlsym(lib, "dlwork_run");
	if (!run) {
		fprintf(stderr, "dlopener: %s\n", dlerror());
		return 1;
	}
	run(1000);
	printf("done\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		if (strcmp(line, "q\n") == 0)
			break;
	return 0;
}
