/* fgtrace — strict parsers for command-line values. */
#include "parse.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S	1000000000.0
#define MAX_DURATION_NS (30ull * 24 * 3600 * 1000000000ull)

static int parse_unit(const char *u, double *scale)
{
	static const struct {
		const char *name;
		double scale;
	} units[] = {
	    {"", NS_PER_S},
	    {"ns", 1.0},
	    {"us", 1e3},
	    {"ms", 1e6},
	    {"s", NS_PER_S},
	    {"m", 60 * NS_PER_S},
	    {"h", 3600 * NS_PER_S},
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(u, units[i].name) == 0) {
			*scale = units[i].scale;
			return 0;
		}
	}
	return -EINVAL;
}

/* "-5", "+2.5": a number, but a signed one, which no value here may be. */
static bool is_signed_number(const char *s)
{
	return s && (s[0] == '-' || s[0] == '+') &&
	       (isdigit((unsigned char)s[1]) ||
		(s[1] == '.' && isdigit((unsigned char)s[2])));
}

int fgt_parse_duration(const char *s, uint64_t *ns)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return is_signed_number(s) ? -ERANGE : -EINVAL;
	/* strtod would accept hex, "inf" and exponents: allow digits and one dot. */
	const char *p = s;
	int dots = 0;
	while (isdigit((unsigned char)*p) || *p == '.') {
		if (*p == '.' && ++dots > 1)
			return -EINVAL;
		p++;
	}
	if (p[-1] == '.')
		return -EINVAL;
	double scale;
	if (parse_unit(p, &scale) < 0)
		return -EINVAL;
	char num[64];
	while (s[0] == '0' && isdigit((unsigned char)s[1]))
		s++; /* leading zeros do not make a number long */
	size_t n = (size_t)(p - s);
	if (n >= sizeof(num))
		return -ERANGE;
	memcpy(num, s, n);
	num[n] = '\0';
	errno = 0;
	char *end;
	double v = strtod(num, &end);
	if (*end) /* a locale whose decimal point is not '.' */
		return -EINVAL;
	if (errno)
		return -ERANGE;
	double total = v * scale;
	if (!(total >= 1.0) || total > (double)MAX_DURATION_NS)
		return -ERANGE;
	*ns = (uint64_t)llround(total);
	return 0;
}

int fgt_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '-')
		return isdigit((unsigned char)s[1]) ? -ERANGE : -EINVAL;
	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int fgt_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return s && s[0] == '-' && isdigit((unsigned char)s[1]) ? -ERANGE : -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	unsigned long long mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1024 * 1024, end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -EINVAL;
	if (v > max / mult || v * mult < min || v * mult > max)
		return -ERANGE;
	*out = v * mult;
	return 0;
}
