/*
 * JSON lines rendered from typed Arrow columns, byte for byte what DuckDB's SQL gives.
 *
 * Rendering each row's object in SQL (to_json of a struct, ISO timestamps by strftime)
 * cost DuckDB more CPU than producing the rows; here one pass over the columns writes
 * every line of a batch. The rules copy DuckDB's to_json (yyjson) and formats.py:
 * - strings: '"' and '\' escaped, \b \t \n \f \r, other bytes below 0x20 as \u00XX
 *   (upper-case hex); DEL, '/' and all non-ASCII as they are;
 * - integers and booleans as DuckDB prints them; DECIMAL of up to 15 digits as the
 *   double it converts to, which for so few digits is the decimal itself, in yyjson's
 *   notation (1.5, 100.0, 0.001, 1e-7);
 * - dates and timestamps (micros, UTC) as ISO 8601 strings, a fraction only when there
 *   is one, expanded years outside 0001-9999, infinities as null;
 * - RAW columns: JSON text DuckDB rendered per value (doubles, UUIDs, ...), pasted.
 * A null is null. Field names arrive already escaped, with their '"' and ':'.
 *
 * The lines go to one anonymous mapping per batch with count + 1 int64 offsets:
 * an Arrow large_string array. The caller frees it with ferry_json_free.
 *
 * Built by scripts/setup: cc -O2 -Wall -shared -fPIC -o _json_lines.so json_lines.c
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

enum kind {
    K_STRING32, K_STRING64, K_RAW32, K_RAW64, K_BOOL,
    K_INT8, K_INT16, K_INT32, K_INT64, K_UINT8, K_UINT16, K_UINT32, K_UINT64,
    K_DATE32, K_TIMESTAMP_US, K_DECIMAL128,
};

struct column {
    int32_t kind;
    int32_t scale;          /* K_DECIMAL128 */
    const uint8_t *validity; /* Arrow bitmap, NULL when there is no null */
    int64_t offset;         /* the array's offset, in values */
    const void *values;     /* values, or the offsets of a string array */
    const char *chars;      /* a string array's data */
    const char *name;       /* ,"name": (the first field's starts with {) */
    int64_t name_len;
};

static const char HEX[] = "0123456789ABCDEF";
static const char DIGIT_PAIRS[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* 0: as it is; otherwise the character after the backslash ('u' for \u00XX) */
static const char ESCAPE[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    ['"'] = '"', ['\\'] = '\\',
};

static int is_valid(const struct column *column, int64_t row)
{
    if (column->validity == NULL)
        return 1;
    int64_t bit = column->offset + row;
    return (column->validity[bit >> 3] >> (bit & 7)) & 1;
}

static void string_span(const struct column *column, int64_t row, const char **start,
                        int64_t *length)
{
    int64_t index = column->offset + row, begin, end;
    if (column->kind == K_STRING32 || column->kind == K_RAW32) {
        const int32_t *offsets = column->values;
        begin = offsets[index];
        end = offsets[index + 1];
    } else {
        const int64_t *offsets = column->values;
        begin = offsets[index];
        end = offsets[index + 1];
    }
    *start = column->chars + begin;
    *length = end - begin;
}

static char *put(char *at, const char *text, int64_t length)
{
    memcpy(at, text, (size_t)length);
    return at + length;
}

#define BYTES8(c) (0x0101010101010101ULL * (uint64_t)(c))

/* Whether any of 8 bytes needs escaping: below 0x20, '"' or '\\' (exact as a yes/no). */
static int any_special(uint64_t x)
{
    uint64_t quote = x ^ BYTES8('"'), backslash = x ^ BYTES8('\\');
    uint64_t below = (x - BYTES8(0x20)) & ~x;
    uint64_t zero = ((quote - BYTES8(1)) & ~quote) | ((backslash - BYTES8(1)) & ~backslash);
    return ((below | zero) & BYTES8(0x80)) != 0;
}

static char *put_escaped(char *at, const unsigned char *text, int64_t length)
{
    *at++ = '"';
    int64_t run = 0, i = 0;
    while (i < length) {
        uint64_t eight;
        if (i + 8 <= length) { /* most text has nothing to escape: 8 bytes at a time */
            memcpy(&eight, text + i, 8);
            if (!any_special(eight)) {
                i += 8;
                continue;
            }
        }
        for (int64_t end = i + 8 < length ? i + 8 : length; i < end; i++) {
            char escape = ESCAPE[text[i]];
            if (escape == 0)
                continue;
            at = put(at, (const char *)text + run, i - run);
            run = i + 1;
            *at++ = '\\';
            *at++ = escape;
            if (escape == 'u') {
                *at++ = '0';
                *at++ = '0';
                *at++ = HEX[text[i] >> 4];
                *at++ = HEX[text[i] & 15];
            }
        }
    }
    at = put(at, (const char *)text + run, length - run);
    *at++ = '"';
    return at;
}

static char *put_unsigned(char *at, uint64_t value)
{
    char digits[20];
    int n = 20;
    while (value >= 100) {
        unsigned pair = (unsigned)(value % 100) * 2;
        value /= 100;
        digits[--n] = DIGIT_PAIRS[pair + 1];
        digits[--n] = DIGIT_PAIRS[pair];
    }
    if (value >= 10) {
        digits[--n] = DIGIT_PAIRS[value * 2 + 1];
        digits[--n] = DIGIT_PAIRS[value * 2];
    } else {
        digits[--n] = (char)('0' + value);
    }
    return put(at, digits + n, 20 - n);
}

static char *put_signed(char *at, int64_t value)
{
    if (value >= 0)
        return put_unsigned(at, (uint64_t)value);
    *at++ = '-';
    return put_unsigned(at, 0 - (uint64_t)value);
}

/* value zero-padded to width digits */
static char *put_padded(char *at, uint64_t value, int width)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n < width)
        digits[n++] = '0';
    while (n)
        *at++ = digits[--n];
    return at;
}

static char *put_two(char *at, int value)
{
    *at++ = DIGIT_PAIRS[value * 2];
    *at++ = DIGIT_PAIRS[value * 2 + 1];
    return at;
}

/* Howard Hinnant's civil_from_days: proleptic Gregorian, astronomical years */
static void civil(int64_t days, int64_t *year, int *month, int *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

/* 2026-01-15; -0043 and +12026 outside 0001-9999 (formats._expanded_year) */
static char *put_date(char *at, int64_t days)
{
    int64_t year;
    int month, day;
    civil(days, &year, &month, &day);
    if (year < 0)
        *at++ = '-';
    else if (year > 9999)
        *at++ = '+';
    at = put_padded(at, (uint64_t)(year < 0 ? -year : year), 4);
    *at++ = '-';
    at = put_two(at, month);
    *at++ = '-';
    return put_two(at, day);
}

static char *put_timestamp(char *at, int64_t micros)
{
    int64_t seconds = micros / 1000000, fraction = micros % 1000000;
    if (fraction < 0) {
        fraction += 1000000;
        seconds -= 1;
    }
    int64_t days = seconds / 86400, of_day = seconds % 86400;
    if (of_day < 0) {
        of_day += 86400;
        days -= 1;
    }
    *at++ = '"';
    at = put_date(at, days);
    *at++ = 'T';
    at = put_two(at, (int)(of_day / 3600));
    *at++ = ':';
    at = put_two(at, (int)(of_day / 60 % 60));
    *at++ = ':';
    at = put_two(at, (int)(of_day % 60));
    if (fraction) {
        int width = 6;
        while (fraction % 10 == 0) {
            fraction /= 10;
            width--;
        }
        *at++ = '.';
        at = put_padded(at, (uint64_t)fraction, width);
    }
    *at++ = 'Z';
    *at++ = '"';
    return at;
}

/*
 * unscaled / 10^scale as yyjson writes the double nearest to it. With at most 15 digits
 * that double's shortest form is the decimal without its trailing zeros; yyjson then
 * writes it plainly when the point falls within (-6, 21] of the first digit (1.5, 100.0,
 * 0.00001), else in scientific notation (1e-7, 1.5e-10).
 */
static char *put_decimal(char *at, int64_t unscaled, int scale)
{
    if (unscaled == 0)
        return put(at, "0.0", 3);
    if (unscaled < 0)
        *at++ = '-';
    uint64_t magnitude = unscaled < 0 ? 0 - (uint64_t)unscaled : (uint64_t)unscaled;
    int exponent = -scale;
    while (magnitude % 10 == 0) {
        magnitude /= 10;
        exponent++;
    }
    char digits[20];
    int n = (int)(put_unsigned(digits, magnitude) - digits);
    int point = n + exponent; /* digits before the decimal point */
    if (point > -6 && point <= 21) {
        if (point <= 0) {
            at = put(at, "0.", 2);
            for (int i = 0; i < -point; i++)
                *at++ = '0';
            return put(at, digits, n);
        }
        if (point >= n) {
            at = put(at, digits, n);
            for (int i = n; i < point; i++)
                *at++ = '0';
            return put(at, ".0", 2);
        }
        at = put(at, digits, point);
        *at++ = '.';
        return put(at, digits + point, n - point);
    }
    *at++ = digits[0];
    if (n > 1) {
        *at++ = '.';
        at = put(at, digits + 1, n - 1);
    }
    *at++ = 'e';
    return put_signed(at, point - 1);
}

#define DATE_INFINITY INT32_MAX
#define TIMESTAMP_INFINITY INT64_MAX
#define MAX_SCALAR 48 /* the longest number, date or timestamp written, with quotes */

/* The most bytes count rows can take: every string byte escaped as \u00XX, every number
 * or date at its longest. Only the pages written become resident. */
static int64_t lines_bound(const struct column *columns, int32_t column_count, int64_t count,
                           int64_t fixed)
{
    int64_t bound = 64 + count * fixed;
    for (int32_t c = 0; c < column_count; c++) {
        const struct column *column = &columns[c];
        bound += count * column->name_len;
        if (column->kind > K_RAW64) {
            bound += count * MAX_SCALAR;
            continue;
        }
        const char *first, *last;
        int64_t length, chars = 0;
        if (count > 0) {
            string_span(column, 0, &first, &length);
            string_span(column, count - 1, &last, &length);
            chars = (last + length) - first;
        }
        int escaped = column->kind == K_RAW32 || column->kind == K_RAW64 ? 1 : 6;
        bound += escaped * chars + 4 * count; /* quotes, or null */
    }
    return bound;
}

static char *put_value(char *at, const struct column *column, int64_t row)
{
    int64_t index = column->offset + row;
    const char *start;
    int64_t length;
    switch (column->kind) {
    case K_STRING32:
    case K_STRING64:
        string_span(column, row, &start, &length);
        return put_escaped(at, (const unsigned char *)start, length);
    case K_RAW32:
    case K_RAW64:
        string_span(column, row, &start, &length);
        return put(at, start, length);
    case K_BOOL:
        if ((((const uint8_t *)column->values)[index >> 3] >> (index & 7)) & 1)
            return put(at, "true", 4);
        return put(at, "false", 5);
    case K_INT8:
        return put_signed(at, ((const int8_t *)column->values)[index]);
    case K_INT16:
        return put_signed(at, ((const int16_t *)column->values)[index]);
    case K_INT32:
        return put_signed(at, ((const int32_t *)column->values)[index]);
    case K_INT64:
        return put_signed(at, ((const int64_t *)column->values)[index]);
    case K_UINT8:
        return put_unsigned(at, ((const uint8_t *)column->values)[index]);
    case K_UINT16:
        return put_unsigned(at, ((const uint16_t *)column->values)[index]);
    case K_UINT32:
        return put_unsigned(at, ((const uint32_t *)column->values)[index]);
    case K_UINT64:
        return put_unsigned(at, ((const uint64_t *)column->values)[index]);
    case K_DATE32: {
        int32_t days = ((const int32_t *)column->values)[index];
        if (days == DATE_INFINITY || days == -DATE_INFINITY)
            return put(at, "null", 4);
        *at++ = '"';
        at = put_date(at, days);
        *at++ = '"';
        return at;
    }
    case K_TIMESTAMP_US: {
        int64_t micros = ((const int64_t *)column->values)[index];
        if (micros == TIMESTAMP_INFINITY || micros == -TIMESTAMP_INFINITY)
            return put(at, "null", 4);
        return put_timestamp(at, micros);
    }
    case K_DECIMAL128: /* up to 15 digits: the low 64 bits, little-endian, hold it */
        return put_decimal(at, ((const int64_t *)column->values)[2 * index], column->scale);
    }
    return at;
}

void ferry_json_free(char *data, int64_t capacity)
{
    munmap(data, (size_t)capacity);
}

/*
 * Render count rows: lead, then each field's name and value, then tail (jsonl: lead ""
 * and tail "}\n"; a JSON array's lines: lead ",\n"). offsets gets count + 1 entries;
 * *data the lines, in an anonymous mapping of *capacity bytes of its own (freed lines
 * from malloc stayed resident; unmapped, they are gone): ferry_json_free(*data,
 * *capacity). Returns the bytes written, -1 when out of memory or on an unknown kind.
 */
int64_t ferry_json_lines(const struct column *columns, int32_t column_count, int64_t count,
                         const char *lead, int64_t lead_len, const char *tail,
                         int64_t tail_len, int64_t *offsets, char **data, int64_t *capacity)
{
    for (int32_t c = 0; c < column_count; c++)
        if (columns[c].kind < K_STRING32 || columns[c].kind > K_DECIMAL128)
            return -1;
    int64_t bound = lines_bound(columns, column_count, count, lead_len + tail_len);
    char *start = mmap(NULL, (size_t)bound, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
    if (start == MAP_FAILED)
        return -1;
    madvise(start, (size_t)bound, MADV_HUGEPAGE); /* fewer page faults; best effort */
    char *at = start;
    offsets[0] = 0;
    for (int64_t row = 0; row < count; row++) {
        at = put(at, lead, lead_len);
        for (int32_t c = 0; c < column_count; c++) {
            const struct column *column = &columns[c];
            at = put(at, column->name, column->name_len);
            at = is_valid(column, row) ? put_value(at, column, row) : put(at, "null", 4);
        }
        at = put(at, tail, tail_len);
        offsets[row + 1] = at - start;
    }
    *data = start;
    *capacity = bound;
    return at - start;
}
