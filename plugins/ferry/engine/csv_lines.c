/* CSV and TSV lines from typed Arrow columns (see lines_native.py): the bytes of
 * formats.csv_line, rendered here instead of in DuckDB's SQL.
 *
 * ferry_csv_bound gives an upper bound of the output's size; ferry_csv_lines writes every
 * row's line (fields joined by the delimiter, then LF) and the lines' offsets (rows + 1,
 * from 0), and returns the bytes written.
 */
#include <stdint.h>
#include <string.h>

enum {
    KIND_TEXT,      /* string: quoted when it needs it (formats.csv_field) */
    KIND_PLAIN,     /* string written as it is: numbers' text, hashes */
    KIND_INT8, KIND_INT16, KIND_INT32, KIND_INT64,
    KIND_UINT8, KIND_UINT16, KIND_UINT32, KIND_UINT64,
    KIND_BOOL,
    KIND_DATE32,    /* days since 1970-01-01 */
    KIND_TIMESTAMP, /* microseconds since 1970-01-01 00:00:00 UTC */
    KIND_DECIMAL128, /* scale in flags' bits 8-15, precision in bits 16-23 */
};
enum { FLAG_LARGE = 1 /* int64 string offsets */, FLAG_GUARD = 2 /* formula guard */ };

typedef struct {
    int32_t kind, flags;
    int64_t offset;          /* the Arrow array's offset, in rows */
    const uint8_t *validity; /* NULL when there is no null */
    const void *values;      /* string offsets, fixed-width values or the bool bitmap */
    const uint8_t *data;     /* string bytes */
} ferry_column;

#define MICROS_PER_DAY 86400000000LL
#define DATE_INFINITY 2147483647
#define TIMESTAMP_INFINITY 9223372036854775807LL

static int is_valid(const ferry_column *c, int64_t row) {
    int64_t i = c->offset + row;
    return c->validity == NULL || (c->validity[i >> 3] >> (i & 7)) & 1;
}

static void text_span(const ferry_column *c, int64_t row, int64_t *start, int64_t *end) {
    int64_t i = c->offset + row;
    if (c->flags & FLAG_LARGE) {
        const int64_t *offsets = c->values;
        *start = offsets[i], *end = offsets[i + 1];
    } else {
        const int32_t *offsets = c->values;
        *start = offsets[i], *end = offsets[i + 1];
    }
}

static uint8_t *put_unsigned(uint8_t *out, uint64_t value) {
    uint8_t digits[20];
    int n = 0;
    do {
        digits[n++] = (uint8_t)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n) *out++ = digits[--n];
    return out;
}

static uint8_t *put_signed(uint8_t *out, int64_t value) {
    if (value >= 0) return put_unsigned(out, (uint64_t)value);
    *out++ = '-';
    return put_unsigned(out, 0 - (uint64_t)value);
}

static uint8_t *put_two(uint8_t *out, int value) {
    out[0] = (uint8_t)('0' + value / 10), out[1] = (uint8_t)('0' + value % 10);
    return out + 2;
}

/* DuckDB's text of a DECIMAL: all scale digits; no 0 before the point when precision is
 * the scale (DECIMAL(4,4) 0.5 is .5000). */
static uint8_t *put_decimal(uint8_t *out, const uint64_t *words, int scale, int precision) {
    unsigned __int128 value = ((unsigned __int128)words[1] << 64) | words[0];
    if (words[1] >> 63) {
        *out++ = '-';
        value = 0 - value;
    }
    uint8_t digits[40];
    int n = 0;
    uint64_t small = (uint64_t)value;
    if (value >> 64) {
        do {
            digits[n++] = (uint8_t)('0' + (int)(value % 10));
            value /= 10;
        } while (value >> 64);
        small = (uint64_t)value;
    }
    do {
        digits[n++] = (uint8_t)('0' + small % 10);
        small /= 10;
    } while (small);
    while (n < scale + (precision > scale)) digits[n++] = '0';
    while (n > scale) *out++ = digits[--n];
    if (scale) {
        *out++ = '.';
        while (n) *out++ = digits[--n];
    }
    return out;
}

/* ISO 8601's year: 0001-9999 as four digits; else expanded (-0043, 0000, +12026). */
static uint8_t *put_year(uint8_t *out, int64_t year) {
    if (year < 0) *out++ = '-';
    if (year > 9999) *out++ = '+';
    uint64_t magnitude = year < 0 ? (uint64_t)(-year) : (uint64_t)year;
    for (uint64_t width = 1000; width > 1 && magnitude < width; width /= 10) *out++ = '0';
    return put_unsigned(out, magnitude);
}

/* Proleptic Gregorian date of a day count (H. Hinnant's civil_from_days). */
static uint8_t *put_date(uint8_t *out, int64_t days) {
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t day_of_era = days - era * 146097;
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524
                           - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t shifted_month = (5 * day_of_year + 2) / 153;
    int day = (int)(day_of_year - (153 * shifted_month + 2) / 5 + 1);
    int month = (int)(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
    int64_t year = year_of_era + era * 400 + (month <= 2);
    out = put_year(out, year);
    *out++ = '-';
    out = put_two(out, month);
    *out++ = '-';
    return put_two(out, day);
}

/* 2026-01-15T10:30:45Z, with a fraction only when there is one, trailing zeros trimmed. */
static uint8_t *put_timestamp(uint8_t *out, int64_t micros) {
    int64_t days = micros / MICROS_PER_DAY, rest = micros % MICROS_PER_DAY;
    if (rest < 0) days -= 1, rest += MICROS_PER_DAY;
    out = put_date(out, days);
    int64_t seconds = rest / 1000000, fraction = rest % 1000000;
    *out++ = 'T';
    out = put_two(out, (int)(seconds / 3600));
    *out++ = ':';
    out = put_two(out, (int)(seconds / 60 % 60));
    *out++ = ':';
    out = put_two(out, (int)(seconds % 60));
    if (fraction) {
        uint8_t digits[6];
        int n = 6;
        for (int i = 5; i >= 0; i--) digits[i] = (uint8_t)('0' + fraction % 10), fraction /= 10;
        while (digits[n - 1] == '0') n--;
        *out++ = '.';
        memcpy(out, digits, (size_t)n);
        out += n;
    }
    *out++ = 'Z';
    return out;
}

/* The RFC 4180 field: "" when empty; quoted, quotes doubled and NULs dropped, when it holds
 * the delimiter, a quote, CR, LF or NUL; a ' first when guarded and starting a formula. */
static uint8_t *put_text(uint8_t *out, const uint8_t *text, int64_t length, int guard,
                         const uint8_t *special) {
    int formula = guard && length > 0 && (text[0] == '=' || text[0] == '+' || text[0] == '-'
                                          || text[0] == '@' || text[0] == '\t'
                                          || text[0] == '\r');
    if (length == 0) {
        *out++ = '"', *out++ = '"';
        return out;
    }
    int64_t i = 0;
    while (i < length && !special[text[i]]) i++;
    if (i == length) {
        if (formula) *out++ = '\'';
        memcpy(out, text, (size_t)length);
        return out + length;
    }
    *out++ = '"';
    if (formula) *out++ = '\'';
    memcpy(out, text, (size_t)i);
    out += i;
    for (; i < length; i++) {
        uint8_t byte = text[i];
        if (byte == 0) continue;
        if (byte == '"') *out++ = '"';
        *out++ = byte;
    }
    *out++ = '"';
    return out;
}

static uint8_t *put_field(uint8_t *out, const ferry_column *c, int64_t row,
                          const uint8_t *special) {
    if (!is_valid(c, row)) return out;
    int64_t i = c->offset + row;
    switch (c->kind) {
    case KIND_TEXT:
    case KIND_PLAIN: {
        int64_t start, end;
        text_span(c, row, &start, &end);
        if (c->kind == KIND_PLAIN) {
            memcpy(out, c->data + start, (size_t)(end - start));
            return out + (end - start);
        }
        return put_text(out, c->data + start, end - start, c->flags & FLAG_GUARD, special);
    }
    case KIND_INT8: return put_signed(out, ((const int8_t *)c->values)[i]);
    case KIND_INT16: return put_signed(out, ((const int16_t *)c->values)[i]);
    case KIND_INT32: return put_signed(out, ((const int32_t *)c->values)[i]);
    case KIND_INT64: return put_signed(out, ((const int64_t *)c->values)[i]);
    case KIND_UINT8: return put_unsigned(out, ((const uint8_t *)c->values)[i]);
    case KIND_UINT16: return put_unsigned(out, ((const uint16_t *)c->values)[i]);
    case KIND_UINT32: return put_unsigned(out, ((const uint32_t *)c->values)[i]);
    case KIND_UINT64: return put_unsigned(out, ((const uint64_t *)c->values)[i]);
    case KIND_BOOL: {
        const uint8_t *bits = c->values;
        int value = (bits[i >> 3] >> (i & 7)) & 1;
        memcpy(out, value ? "true" : "false", value ? 4 : 5);
        return out + (value ? 4 : 5);
    }
    case KIND_DATE32: {
        int32_t days = ((const int32_t *)c->values)[i];
        return days == DATE_INFINITY || days == -DATE_INFINITY ? out : put_date(out, days);
    }
    case KIND_DECIMAL128:
        return put_decimal(out, (const uint64_t *)c->values + 2 * i, (c->flags >> 8) & 0xff,
                           (c->flags >> 16) & 0xff);
    case KIND_TIMESTAMP: {
        int64_t micros = ((const int64_t *)c->values)[i];
        if (micros == TIMESTAMP_INFINITY || micros == -TIMESTAMP_INFINITY) return out;
        return put_timestamp(out, micros);
    }
    }
    return out;
}

static int64_t column_bound(const ferry_column *c, int64_t rows) {
    switch (c->kind) {
    case KIND_TEXT:
    case KIND_PLAIN: {
        int64_t first, last, ignored;
        text_span(c, 0, &first, &ignored);
        text_span(c, rows - 1, &ignored, &last);
        int64_t span = last - first;
        return c->kind == KIND_PLAIN ? span : 2 * span + 3 * rows;
    }
    case KIND_BOOL: return 5 * rows;
    case KIND_DATE32: return 16 * rows;  /* +5881580-07-10 */
    case KIND_TIMESTAMP: return 32 * rows;  /* +294247-01-10T04:00:54.775806Z */
    case KIND_DECIMAL128: return 42 * rows;  /* sign, 38 digits, point, leading 0 */
    default: return 20 * rows;  /* -9223372036854775808 */
    }
}

int64_t ferry_csv_bound(const ferry_column *columns, int32_t count, int64_t rows) {
    int64_t bound = rows * (count + 1);  /* delimiters and LFs */
    if (rows == 0) return 0;
    for (int32_t j = 0; j < count; j++) bound += column_bound(&columns[j], rows);
    return bound;
}

int64_t ferry_csv_lines(const ferry_column *columns, int32_t count, int64_t rows,
                        int32_t delimiter, uint8_t *out, int64_t *offsets) {
    uint8_t special[256] = {0};
    special[(uint8_t)delimiter] = special['"'] = special['\n'] = special['\r'] = special[0] = 1;
    uint8_t *start = out;
    offsets[0] = 0;
    for (int64_t row = 0; row < rows; row++) {
        for (int32_t j = 0; j < count; j++) {
            if (j) *out++ = (uint8_t)delimiter;
            out = put_field(out, &columns[j], row, special);
        }
        *out++ = '\n';
        offsets[row + 1] = out - start;
    }
    return out - start;
}
