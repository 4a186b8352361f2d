/* A library function cheap enough that its caller spends a good share of
 * its time in the PLT stub that leads to it. */
__attribute__((noinline)) int plt_callee(int x)
{
	return x * 3 + 1;
}
