/* fgtrace — strict parsers for command-line values. Pure functions. */
#ifndef FGT_PARSE_H
#define FGT_PARSE_H

#include <stdint.h>
#include <stddef.h>

/* Parses a duration: a decimal number with an optional unit (ns, us, ms, s, m,
 * h); a bare number is seconds. "1.5s", "500ms", "2m". Must be > 0 and at most
 * 30 days. Returns 0 and sets *ns, -EINVAL if malformed, -ERANGE if zero,
 * negative or too large. */
int fgt_parse_duration(const char *s, uint64_t *ns);

/* Parses an unsigned decimal integer in [min, max]. No sign, no spaces, no
 * trailing text. Returns 0, -EINVAL if malformed, -ERANGE if out of range. */
int fgt_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses a byte size with an optional K or M suffix (powers of 1024) in
 * [min, max]. Returns 0, -EINVAL or -ERANGE as above. */
int fgt_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
