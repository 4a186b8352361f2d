/* fgtrace — JSON strings from hostile bytes.
 *
 * Thread names, paths and symbol names come from the target and may hold any
 * byte. The output is always a valid JSON string: valid UTF-8 is copied raw,
 * '"' and '\' are escaped, control characters (U+0000-U+001F, U+007F) become
 * \u00XX, and each maximal invalid UTF-8 subpart becomes U+FFFD. Surrogate
 * escapes are never written (Perfetto rejects a whole file for one).
 */
#ifndef FGT_JSON_H
#define FGT_JSON_H

#include <stddef.h>

#include "strbuf.h"

/* Appends s[0..len) as a quoted JSON string. */
void fgt_json_string(struct fgt_strbuf *b, const char *s, size_t len);
/* Appends the NUL-terminated s as a quoted JSON string, or null for NULL. */
void fgt_json_cstring(struct fgt_strbuf *b, const char *s);

#endif
