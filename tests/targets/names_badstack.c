/* Hostile stacks: threads whose frame chain is garbage while they run, so
 * that an unwinder must stop early rather than hang or crash. x86-64 only.
 *
 * Each bad function (assembly, with deliberately misleading CFI) loops: spin
 * for about 50 us, nanosleep 1 ms with a raw syscall, count a round, until
 * told to stop. The raw syscall keeps the bad frame on top while the thread
 * sleeps, so every sample sees it. A sample of a thread asleep is taken from
 * /proc, which gives its pc and sp but none of the garbage in its other
 * registers; one of a thread caught spinning is taken at a stop, with all of
 * them.
 *   bad-rbp   the CFA is computed from rbp, which holds an unmapped address
 *   bad-loop  the CFA is computed from rbp, which points at a fake frame
 *             whose saved rbp is itself and whose return address is the loop:
 *             an unwinder that does not check progress steps forever
 *   bad-pc    the return address is 0x1000 (unmapped) and rbp is garbage,
 *             so no frame-pointer fallback either
 *   bad-rsp   rsp itself points at unmapped memory (signals are blocked)
 *   bad-wrap  the CFA is computed from rbp, which holds 2^64 - 16: the CFA
 *             wraps to 0, and the saved registers lie just below 2^64
 *   bad-jump  jumps to 0x1000 again and again; a SIGSEGV handler on an
 *             alternate stack jumps back (a pc in unmapped memory)
 * Prints "ready PID" when all run. Commands on stdin:
 *   report   "report bad-rbp=N bad-loop=N bad-pc=N bad-rsp=N bad-wrap=N
 *            bad-jump=N"
 *   q        stops the threads, joins them and exits 0 (also at EOF) */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "names_badstack is x86-64 only"
#endif

enum { BAD_RBP, BAD_LOOP, BAD_PC, BAD_RSP, BAD_WRAP, BAD_JUMP, N_BAD };

volatile long bad_count[N_BAD];
volatile int bad_stop;
const struct timespec bad_nap = {0, 1000000L};

void bad_rbp_spin(void);
void bad_loop_spin(void);
void bad_pc_spin(void);
void bad_rsp_spin(void);
void bad_wrap_spin(void);

/* Assembly reads best one instruction a line. */
/* clang-format off */
/* The loop body shared by the functions below: spin BAD_SPIN rounds,
 * nanosleep(&bad_nap) with a raw syscall, count a round in bad_count[K], go
 * on until bad_stop. */
#define BAD_SPIN "100000"
#define BAD_LOOP_BODY(label, k)                                                \
	label ":\n"                                                            \
	"	movl $" BAD_SPIN ", %ecx\n"                                    \
	"0:	decl %ecx\n"                                                   \
	"	jnz 0b\n"                                                      \
	"	movl $35, %eax\n" /* SYS_nanosleep */                          \
	"	leaq bad_nap(%rip), %rdi\n"                                    \
	"	xorl %esi, %esi\n"                                             \
	"	syscall\n"                                                     \
	"	lock incq bad_count+" #k "*8(%rip)\n"                          \
	"	movl bad_stop(%rip), %eax\n"                                   \
	"	testl %eax, %eax\n"                                            \
	"	jz " label "b\n"

__asm__(".text\n"
	/* CFA = rbp + 16, and rbp = 0x10. */
	".globl bad_rbp_spin\n"
	".type bad_rbp_spin, @function\n"
	"bad_rbp_spin:\n"
	"	.cfi_startproc\n"
	"	pushq %rbp\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbp, -16\n"
	"	movq %rsp, %rbp\n"
	"	.cfi_def_cfa_register %rbp\n"
	"	movq $0x10, %rbp\n" BAD_LOOP_BODY("1", 0) "	movq %rsp, %rbp\n"
	"	popq %rbp\n"
	"	.cfi_def_cfa %rsp, 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bad_rbp_spin, .-bad_rbp_spin\n"

	/* CFA = rbp + 16, where rbp points at {rbp, return address into the
	 * loop}: each step gives the same frame again. */
	".globl bad_loop_spin\n"
	".type bad_loop_spin, @function\n"
	"bad_loop_spin:\n"
	"	.cfi_startproc\n"
	"	pushq %rbp\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbp, -16\n"
	"	movq %rsp, %rbp\n"
	"	.cfi_def_cfa_register %rbp\n"
	"	subq $16, %rsp\n"
	"	movq %rsp, (%rsp)\n"
	"	leaq 2f(%rip), %rax\n"
	"	movq %rax, 8(%rsp)\n"
	"	movq %rsp, %rbp\n" BAD_LOOP_BODY("2", 1) "	leaq 16(%rsp), %rbp\n"
	"	leave\n"
	"	.cfi_def_cfa %rsp, 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bad_loop_spin, .-bad_loop_spin\n"

	/* CFA = rsp + 8, where [rsp] = 0x1000; rbp = 0x30 in the caller too. */
	".globl bad_pc_spin\n"
	".type bad_pc_spin, @function\n"
	"bad_pc_spin:\n"
	"	.cfi_startproc\n"
	"	pushq %rbp\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbp, -16\n"
	"	.cfi_remember_state\n"
	"	movq $0x30, %rbp\n"
	"	pushq $0x1000\n"
	"	.cfi_def_cfa_offset 8\n"
	"	.cfi_same_value %rbp\n" BAD_LOOP_BODY("3", 2) "	addq $8, %rsp\n"
	"	.cfi_restore_state\n"
	"	popq %rbp\n"
	"	.cfi_def_cfa_offset 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bad_pc_spin, .-bad_pc_spin\n"

	/* rsp = 0x1000 while it loops; the real one waits in rbx. */
	".globl bad_rsp_spin\n"
	".type bad_rsp_spin, @function\n"
	"bad_rsp_spin:\n"
	"	.cfi_startproc\n"
	"	pushq %rbx\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbx, -16\n"
	"	movq %rsp, %rbx\n"
	"	movq $0x1000, %rsp\n" BAD_LOOP_BODY("4", 3) "	movq %rbx, %rsp\n"
	"	popq %rbx\n"
	"	.cfi_def_cfa_offset 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bad_rsp_spin, .-bad_rsp_spin\n"

	/* CFA = rbp + 16, and rbp = 2^64 - 16. */
	".globl bad_wrap_spin\n"
	".type bad_wrap_spin, @function\n"
	"bad_wrap_spin:\n"
	"	.cfi_startproc\n"
	"	pushq %rbp\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbp, -16\n"
	"	movq %rsp, %rbp\n"
	"	.cfi_def_cfa_register %rbp\n"
	"	movq $-16, %rbp\n" BAD_LOOP_BODY("5", 4) "	movq %rsp, %rbp\n"
	"	popq %rbp\n"
	"	.cfi_def_cfa %rsp, 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bad_wrap_spin, .-bad_wrap_spin\n");
/* clang-format on */

static sigjmp_buf jump_back;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(jump_back, 1);
}

__attribute__((noinline)) static void bad_jump_spin(void)
{
	static char altstack[64 * 1024];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	sigaltstack(&ss, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	sa.sa_flags = SA_ONSTACK | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigset_t segv;
	sigemptyset(&segv);
	sigaddset(&segv, SIGSEGV);
	pthread_sigmask(SIG_UNBLOCK, &segv, NULL);
	while (!bad_stop) {
		if (sigsetjmp(jump_back, 1) == 0)
			__asm__ volatile("movq $0x1000, %%rax\n\tjmp *%%rax" ::: "rax");
		bad_count[BAD_JUMP]++;
		nanosleep(&bad_nap, NULL);
	}
}

static void *run(void *arg)
{
	static void (*const bodies[])(void) = {bad_rbp_spin,  bad_loop_spin,
					       bad_pc_spin,   bad_rsp_spin,
					       bad_wrap_spin, bad_jump_spin};
	static const char *const names[] = {"bad-rbp", "bad-loop", "bad-pc",
					    "bad-rsp", "bad-wrap", "bad-jump"};
	long k = (long)arg;
	pthread_setname_np(pthread_self(), names[k]);
	bodies[k]();
	return NULL;
}

static void wait_started(void)
{
	for (int k = 0; k < N_BAD; k++)
		while (bad_count[k] == 0) {
			struct timespec ts = {0, 1000000L};
			nanosleep(&ts, NULL);
		}
}

int main(void)
{
	pthread_t t[N_BAD];
	sigset_t all, old;
	/* No signal may land on a thread whose rsp is garbage. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (long k = 0; k < N_BAD; k++)
		pthread_create(&t[k], NULL, run, (void *)k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	wait_started();
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		if (strcmp(line, "q\n") == 0)
			break;
		if (strcmp(line, "report\n") == 0) {
			printf("report bad-rbp=%ld bad-loop=%ld bad-pc=%ld bad-rsp=%ld "
			       "bad-wrap=%ld bad-jump=%ld\n",
			       bad_count[BAD_RBP], bad_count[BAD_LOOP], bad_count[BAD_PC],
			       bad_count[BAD_RSP], bad_count[BAD_WRAP], bad_count[BAD_JUMP]);
			fflush(stdout);
		}
	}
	bad_stop = 1;
	for (int k = 0; k < N_BAD; k++)
		pthread_join(t[k], NULL);
	return 0;
}
