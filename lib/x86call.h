/* fgtrace — telling a return address by the call instruction before it.
 *
 * A word on a stack that is a return address points just past a CALL. The
 * unwinder uses this to tell a saved frame from other code pointers when it
 * looks for a frame pointer on a copied stack (unwind.c). Known encodings:
 * CALL rel32 (E8), and CALL r/m64 (FF /2) in every ModRM and SIB form, with
 * an optional REX prefix and an optional NOTRACK prefix (3E). Pure functions:
 * no state, no allocation.
 */
#ifndef FGT_X86CALL_H
#define FGT_X86CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest call known: NOTRACK REX FF ModRM SIB disp32. */
#define FGT_X86_CALL_MAX 9

/* Whether the n bytes at b end with a whole CALL instruction, that is,
 * whether b + n can be the return address of a call made from there. Any
 * byte sequence can be given; n may be shorter than FGT_X86_CALL_MAX. */
bool fgt_x86_ends_with_call(const uint8_t *b, size_t n);

#endif
