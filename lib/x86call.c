/* fgtrace — telling a return address by the call instruction before it. */
#include "x86call.h"

#define OP_CALL_REL32 0xe8
#define OP_GROUP5     0xff /* /2 is CALL r/m64 */
#define PFX_NOTRACK   0x3e

/* Bytes of the ModRM byte at p and what it implies (a SIB byte and a
 * displacement), given avail bytes from p on; 0 when they do not fit. */
static size_t modrm_len(const uint8_t *p, size_t avail)
{
	unsigned mod = p[0] >> 6, rm = p[0] & 7;
	size_t len = 1;
	if (mod == 3)
		return 1;
	if (rm == 4) { /* a SIB byte follows */
		if (avail < 2)
			return 0;
		len++;
		if (mod == 0 && (p[1] & 7) == 5)
			len += 4; /* no base: disp32 */
	} else if (mod == 0 && rm == 5) {
		len += 4; /* rip-relative */
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2)
		len += 4;
	return len <= avail ? len : 0;
}

bool fgt_x86_ends_with_call(const uint8_t *b, size_t n)
{
	if (n >= 5 && b[n - 5] == OP_CALL_REL32)
		return true;
	for (size_t len = 2; len <= FGT_X86_CALL_MAX && len <= n; len++) {
		const uint8_t *p = b + n - len;
		size_t i = 0;
		if (p[i] == PFX_NOTRACK)
			i++;
		if ((p[i] & 0xf0) == 0x40) /* REX */
			i++;
		if (i + 2 > len || p[i] != OP_GROUP5 || ((p[i + 1] >> 3) & 7) != 2)
			continue;
		if (i + 1 + modrm_len(p + i + 1, len - i - 1) == len)
			return true;
	}
	return false;
}
