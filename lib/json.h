/* fgtrace — JSON strings from hostile bytes.
 *
 * Thread names, paths and symbol names come from the target and may hold any
 * byte. The output is always a valid JSON string (RFC 8259) in valid UTF-8:
 * - valid UTF-8 is copied raw (U+2028 and U+2029 too);
 * - '"' and '\' are escaped with a backslash;
 * - control characters U+0000-U+001F and U+007F become \u00XX;
 * - each maximal invalid UTF-8 subpart (stray continuation bytes, truncated
 *   sequences, overlong forms, encoded surrogates, code points above
 *   U+10FFFF, bytes C0, C1 and F5-FF) becomes one U+FFFD, as Unicode
 *   recommends.
 * Surrogate escapes (\uD800-\uDFFF) are never written: Perfetto rejects a
 * whole file for one.
 */
#ifndef FGT_JSON_H
#define FGT_JSON_H

#include <stddef.h>

#include "strbuf.h"

/* Appends s[0..len) as a quoted JSON string; NULs in s are data. Cannot fail
 * by itself: an allocation failure sets b->oom (see strbuf.h). */
void fgt_json_string(struct fgt_strbuf *b, const char *s, size_t len);

/* Appends the NUL-terminated s as a quoted JSON string, or the literal null
 * when s is NULL. Fails as fgt_json_string does. */
void fgt_json_cstring(struct fgt_strbuf *b, const char *s);

#endif
