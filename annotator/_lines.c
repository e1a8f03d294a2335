/* The annotator's compiled steps over a block's lines: splitting the input lines
   (annotator.vcf.parse_chunk) and writing the output lines (annotator.engine._assemble). Each
   releases the GIL while it runs, so blocks annotated in threads run side by side.

   split_lines(block, ncols, rows, pos, chrom) -> n, or -1

   The common shape of a block, in one pass: every line has ncols - 1 tabs and then its newline
   (no CR, no other byte below 11), and POS is 1 to 10 digits below 2^32. Writes line i's tab
   offsets and newline offset to rows[k * cap + i] for k = 0 .. ncols - 1 (int64, column by
   column, so that each column is one contiguous array; cap is rows' length / ncols), POS to
   pos[i] (int64) and a hash of
   CHROM to chrom[i] (uint64, as annotator.vcf.chrom_hashes makes them: names of up to 7 bytes
   exactly, longer ones by the polynomial hash), and returns the number of lines; -1 (anything else, or more lines than rows holds) sends the block
   to the general numpy path, which also names the first bad line. It did what a numpy pass over
   the delimiters and a gather of POS's digits did, in ~40 array operations.

   join_lines(src, head_from, head_to, parts) -> bytes

   Line i of the result is src[head_from[i]:head_to[i]] followed by one value of each part, in
   order. A part is either
     ("text", offsets, data, validity, bit_offset, index)
         the values of a binary Arrow array: its int32 offsets (already sliced to the array),
         its data, its validity bitmap or None, the array's offset into that bitmap, and the
         int64 row of each line (None: row i for line i); a null row adds nothing;
     ("int", prefix, values, shown)
         prefix + the decimal int64 values[i] where the uint8 shown[i] is nonzero, else nothing.

   The same lines came from an Arrow `take` per part and one `binary_join_element_wise`, which
   copied every annotation twice; this copies it once.

   join_rows(ends, parts) -> (data, offsets)

   The same parts without heads, for text made of many rows per group (the GAS_CSQ blocks of a
   record): group g is rows ends[g-1] .. ends[g] - 1 (int64, ascending; the rows are 0 ..
   ends[-1] - 1), each row its parts in order. Returns the groups' bytes and their int32
   offsets (groups + 1 of them, as bytes): an Arrow binary array's two buffers.

   tabix_records(block, begs, ends, line_ends, run_starts, chrom_from, chrom_to)
       -> (records, runs, first, plain)

   What tabix (htslib's tbx_index with tbx_conf_vcf) reads from each line of a block of whole
   lines, for the index built as the text is written (annotator.vcf_index): a line starting with
   '#' is passed over; record i gives its 0-based begin (POS - 1) and end (begin + REF's length)
   and the offset after its newline (int64, relative to the block). Each run of records with the
   same CHROM gives the record it starts at and its CHROM's span. first: the first record's line
   start, or -1. plain is 0, and the caller leaves the file to tabix itself, for any line whose
   interval tabix works out some other way: an INFO with "END=", a symbolic ALT ('<'), a POS
   that is not 1 to 18 plain digits, an empty CHROM or REF, under five columns, a CR before the
   newline or a NUL byte; or for more records than the arrays hold.

   push_records(push, idx, tids, begs, ends, offsets) -> -1, or the first row htslib refused

   hts_idx_push(idx, tids[i], begs[i], ends[i], offsets[i], 1) for each row, in order: push and
   idx are the addresses of htslib's function (pysam's own build, found by ctypes) and index.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum { TEXT, INT };

typedef struct {
    int kind;
    Py_buffer views[4]; /* TEXT: offsets, data, validity, index; INT: prefix, values, shown */
    int held[4];
    const int32_t *offsets;
    const char *data;
    const uint8_t *validity;
    Py_ssize_t bit_offset, n_rows;
    const int64_t *index;
    const char *prefix;
    Py_ssize_t prefix_len;
    const int64_t *values;
    const uint8_t *shown;
} Part;

static void release(Part *parts, Py_ssize_t n) {
    for (Py_ssize_t p = 0; p < n; p++)
        for (int k = 0; k < 4; k++)
            if (parts[p].held[k]) PyBuffer_Release(&parts[p].views[k]);
}

/* A buffer of at least `count` items of `itemsize` bytes (count < 0: any length). */
static int view(PyObject *obj, Part *part, int k, Py_ssize_t itemsize, Py_ssize_t count,
                const char *what) {
    if (PyObject_GetBuffer(obj, &part->views[k], PyBUF_C_CONTIGUOUS) < 0) return -1;
    part->held[k] = 1;
    if (count >= 0 && part->views[k].len < itemsize * count) {
        PyErr_Format(PyExc_ValueError, "join_lines: %s holds %zd bytes, %zd needed", what,
                     part->views[k].len, itemsize * count);
        return -1;
    }
    return 0;
}

static int parse_part(PyObject *spec, Part *part, Py_ssize_t n) {
    const char *kind;
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 1) {
        PyErr_SetString(PyExc_TypeError, "join_lines: a part is a tuple");
        return -1;
    }
    PyObject *name = PyTuple_GET_ITEM(spec, 0);
    if (!PyUnicode_Check(name) || !(kind = PyUnicode_AsUTF8(name))) {
        PyErr_SetString(PyExc_TypeError, "join_lines: a part starts with its kind");
        return -1;
    }
    if (strcmp(kind, "text") == 0) {
        PyObject *offsets, *data, *validity, *index;
        Py_ssize_t bit_offset;
        if (!PyArg_ParseTuple(spec, "sOOOnO", &kind, &offsets, &data, &validity, &bit_offset,
                              &index))
            return -1;
        part->kind = TEXT;
        if (view(offsets, part, 0, 4, 1, "offsets") < 0) return -1;
        part->n_rows = part->views[0].len / 4 - 1;
        part->offsets = part->views[0].buf;
        if (view(data, part, 1, 1, -1, "data") < 0) return -1;
        part->data = part->views[1].buf;
        part->bit_offset = bit_offset;
        if (validity != Py_None) {
            if (view(validity, part, 2, 1, (bit_offset + part->n_rows + 7) / 8, "validity") < 0)
                return -1;
            part->validity = part->views[2].buf;
        }
        if (index != Py_None) {
            if (view(index, part, 3, 8, n, "index") < 0) return -1;
            part->index = part->views[3].buf;
        } else if (part->n_rows < n) {
            PyErr_SetString(PyExc_ValueError, "join_lines: a part has fewer rows than lines");
            return -1;
        }
        /* Every offset the lines may use must lie inside the data. */
        if (part->offsets[0] < 0 || part->offsets[part->n_rows] > part->views[1].len) {
            PyErr_SetString(PyExc_ValueError, "join_lines: offsets outside the data");
            return -1;
        }
        return 0;
    }
    if (strcmp(kind, "int") == 0) {
        PyObject *prefix, *values, *shown;
        if (!PyArg_ParseTuple(spec, "sOOO", &kind, &prefix, &values, &shown)) return -1;
        part->kind = INT;
        if (view(prefix, part, 0, 1, -1, "prefix") < 0) return -1;
        part->prefix = part->views[0].buf;
        part->prefix_len = part->views[0].len;
        if (view(values, part, 1, 8, n, "values") < 0) return -1;
        part->values = part->views[1].buf;
        if (view(shown, part, 2, 1, n, "shown") < 0) return -1;
        part->shown = part->views[2].buf;
        return 0;
    }
    PyErr_Format(PyExc_ValueError, "join_lines: unknown part kind %s", kind);
    return -1;
}

static int digits(int64_t v, char *out) { /* decimal text of v, returns its length */
    char tmp[24];
    int len = 0, neg = v < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[len++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int k = 0;
    if (neg) out[k++] = '-';
    while (len) out[k++] = tmp[--len];
    return k;
}

/* Row of line i, or -1 when the line adds nothing; sets *bad on an index out of range. */
static inline Py_ssize_t row_of(const Part *p, Py_ssize_t i, int *bad) {
    Py_ssize_t r = p->index ? (Py_ssize_t)p->index[i] : i;
    if (r < 0 || r >= p->n_rows) {
        *bad = 1;
        return -1;
    }
    if (p->validity) {
        Py_ssize_t bit = p->bit_offset + r;
        if (!((p->validity[bit >> 3] >> (bit & 7)) & 1)) return -1;
    }
    return r;
}

/* Bytes the parts add to row i (join_lines' lines, join_rows' rows). */
static inline Py_ssize_t parts_length(const Part *parts, Py_ssize_t n_parts, Py_ssize_t i,
                                      int *bad) {
    Py_ssize_t total = 0;
    char num[24];
    for (Py_ssize_t p = 0; p < n_parts; p++) {
        const Part *q = &parts[p];
        if (q->kind == TEXT) {
            Py_ssize_t r = row_of(q, i, bad);
            if (r >= 0) total += q->offsets[r + 1] - q->offsets[r];
        } else if (q->shown[i]) {
            total += q->prefix_len + digits(q->values[i], num);
        }
    }
    return total;
}

/* Write the parts' values for row i at out; returns the end of what was written. */
static inline char *write_parts(const Part *parts, Py_ssize_t n_parts, Py_ssize_t i, char *out,
                                int *bad) {
    for (Py_ssize_t p = 0; p < n_parts; p++) {
        const Part *q = &parts[p];
        if (q->kind == TEXT) {
            Py_ssize_t r = row_of(q, i, bad);
            if (r >= 0) {
                Py_ssize_t len = q->offsets[r + 1] - q->offsets[r];
                memcpy(out, q->data + q->offsets[r], len);
                out += len;
            }
        } else if (q->shown[i]) {
            memcpy(out, q->prefix, q->prefix_len);
            out += q->prefix_len;
            out += digits(q->values[i], out);
        }
    }
    return out;
}

static PyObject *join_lines(PyObject *self, PyObject *args) {
    PyObject *src_obj, *from_obj, *to_obj, *parts_obj;
    if (!PyArg_ParseTuple(args, "OOOO!", &src_obj, &from_obj, &to_obj, &PyList_Type, &parts_obj))
        return NULL;
    Py_buffer src, from, to;
    if (PyObject_GetBuffer(src_obj, &src, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    if (PyObject_GetBuffer(from_obj, &from, PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&src);
        return NULL;
    }
    if (PyObject_GetBuffer(to_obj, &to, PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&src);
        PyBuffer_Release(&from);
        return NULL;
    }
    Py_ssize_t n = from.len / 8, n_parts = PyList_GET_SIZE(parts_obj);
    PyObject *result = NULL;
    Part *parts = PyMem_Calloc(n_parts ? n_parts : 1, sizeof(Part));
    if (!parts) {
        PyErr_NoMemory();
        goto done;
    }
    if (to.len != from.len) {
        PyErr_SetString(PyExc_ValueError, "join_lines: head_from and head_to differ in length");
        goto done;
    }
    for (Py_ssize_t p = 0; p < n_parts; p++)
        if (parse_part(PyList_GET_ITEM(parts_obj, p), &parts[p], n) < 0) goto done;

    const int64_t *hf = from.buf, *ht = to.buf;
    const char *s = src.buf;
    Py_ssize_t total = 0;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < n && !bad; i++) {
        if (hf[i] < 0 || ht[i] < hf[i] || ht[i] > src.len) {
            bad = 2;
            break;
        }
        total += ht[i] - hf[i] + parts_length(parts, n_parts, i, &bad);
    }
    Py_END_ALLOW_THREADS;
    if (bad) {
        PyErr_SetString(PyExc_IndexError, bad == 2 ? "join_lines: a head outside the source"
                                                   : "join_lines: a row index out of range");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, total);
    if (!result) goto done;
    char *out = PyBytes_AS_STRING(result);
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len = ht[i] - hf[i];
        memcpy(out, s + hf[i], len);
        out = write_parts(parts, n_parts, i, out + len, &bad);
    }
    Py_END_ALLOW_THREADS;
done:
    if (parts) {
        release(parts, n_parts);
        PyMem_Free(parts);
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&from);
    PyBuffer_Release(&to);
    return result;
}

static PyObject *join_rows(PyObject *self, PyObject *args) {
    PyObject *ends_obj, *parts_obj;
    if (!PyArg_ParseTuple(args, "OO!", &ends_obj, &PyList_Type, &parts_obj)) return NULL;
    Py_buffer ends;
    if (PyObject_GetBuffer(ends_obj, &ends, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    Py_ssize_t groups = ends.len / 8, n_parts = PyList_GET_SIZE(parts_obj);
    const int64_t *end = ends.buf;
    Py_ssize_t n = groups ? (Py_ssize_t)end[groups - 1] : 0;
    PyObject *data = NULL, *offsets = NULL, *result = NULL;
    Part *parts = PyMem_Calloc(n_parts ? n_parts : 1, sizeof(Part));
    if (!parts) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t g = 0; g < groups; g++)
        if (end[g] < (g ? end[g - 1] : 0)) {
            PyErr_SetString(PyExc_ValueError, "join_rows: ends must not decrease");
            goto done;
        }
    for (Py_ssize_t p = 0; p < n_parts; p++)
        if (parse_part(PyList_GET_ITEM(parts_obj, p), &parts[p], n) < 0) goto done;
    offsets = PyBytes_FromStringAndSize(NULL, (groups + 1) * 4);
    if (!offsets) goto done;
    int32_t *off = (int32_t *)PyBytes_AS_STRING(offsets);
    Py_ssize_t total = 0;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS;
    Py_ssize_t i = 0;
    off[0] = 0;
    for (Py_ssize_t g = 0; g < groups && !bad; g++) {
        for (; i < end[g] && !bad; i++) total += parts_length(parts, n_parts, i, &bad);
        if (total > INT32_MAX) bad = 2;
        off[g + 1] = (int32_t)total;
    }
    Py_END_ALLOW_THREADS;
    if (bad) {
        PyErr_SetString(PyExc_IndexError, bad == 2 ? "join_rows: more than 2 GiB of text"
                                                   : "join_rows: a row index out of range");
        goto done;
    }
    data = PyBytes_FromStringAndSize(NULL, total);
    if (!data) goto done;
    char *out = PyBytes_AS_STRING(data);
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < n; i++) out = write_parts(parts, n_parts, i, out, &bad);
    Py_END_ALLOW_THREADS;
    result = PyTuple_Pack(2, data, offsets);
done:
    if (parts) {
        release(parts, n_parts);
        PyMem_Free(parts);
    }
    Py_XDECREF(data);
    Py_XDECREF(offsets);
    PyBuffer_Release(&ends);
    return result;
}

/* One tab or newline at offset i of a line being split; -1 when the line breaks the shape. */
typedef struct {
    int64_t *rows; /* (ncols, cap), column by column */
    Py_ssize_t ncols, cap, n, col;
    const unsigned char *s;
} Splitter;

static inline int delimiter(Splitter *sp, Py_ssize_t i) {
    unsigned char c = sp->s[i];
    if (c == 9 && sp->col < sp->ncols - 1) {
        sp->rows[sp->col++ * sp->cap + sp->n] = i;
        return 0;
    }
    if (c == 10 && sp->col == sp->ncols - 1 && sp->n < sp->cap && !(i > 0 && sp->s[i - 1] == 13)) {
        sp->rows[sp->col * sp->cap + sp->n++] = i;
        sp->col = 0;
        return 0;
    }
    return -1; /* another byte below 11, a tab too many or too few, CR, no room */
}

static PyObject *split_lines(PyObject *self, PyObject *args) {
    Py_buffer block, rows, pos, chrom;
    Py_ssize_t ncols;
    if (!PyArg_ParseTuple(args, "y*nw*w*w*", &block, &ncols, &rows, &pos, &chrom)) return NULL;
    Py_ssize_t cap = rows.len / 8 / (ncols > 0 ? ncols : 1);
    if (pos.len / 8 < cap) cap = pos.len / 8;
    if (chrom.len / 8 < cap) cap = chrom.len / 8;
    Py_ssize_t n = -1;
    if (ncols >= 2) {
        const unsigned char *s = block.buf;
        Py_ssize_t len = block.len, i = 0;
        Splitter sp = {rows.buf, ncols, cap, 0, 0, s};
        int64_t *r = rows.buf, *p = pos.buf;
        uint64_t *h = chrom.buf;
        int bad = 0;
        Py_BEGIN_ALLOW_THREADS;
#ifdef __SSE2__
        /* 16 bytes at a time: a mask of the bytes below 11 (min(v, 10) == v), then each one. */
        const __m128i ten = _mm_set1_epi8(10);
        for (; i + 16 <= len && !bad; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
            unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, ten), v));
            for (; mask && !bad; mask &= mask - 1) bad = delimiter(&sp, i + __builtin_ctz(mask));
        }
#endif
        for (; i < len && !bad; i++)
            if (s[i] <= 10) bad = delimiter(&sp, i);
        if (!bad && sp.col == 0 && sp.n > 0) n = sp.n;
        const int64_t *chrom_end = r, *pos_end = r + cap, *line_end = r + (ncols - 1) * cap;
        for (Py_ssize_t k = 0; k < n; k++) {
            Py_ssize_t a = chrom_end[k] + 1, b = pos_end[k];
            if (b - a < 1 || b - a > 10) {
                n = -1;
                break;
            }
            int64_t v = 0;
            for (Py_ssize_t j = a; j < b; j++) {
                unsigned d = (unsigned)s[j] - '0';
                if (d > 9) {
                    v = -1;
                    break;
                }
                v = v * 10 + d;
            }
            if (v < 0 || v >= ((int64_t)1 << 32)) {
                n = -1;
                break;
            }
            p[k] = v;
            Py_ssize_t from = k ? line_end[k - 1] + 1 : 0, len_ = a - 1 - from;
            uint64_t word = 0;
            if (len_ <= 7) {
                for (Py_ssize_t j = len_ - 1; j >= 0; j--) word = (word << 8) | s[from + j];
                word |= (uint64_t)len_ << 56;
            } else {
                word = (uint64_t)len_ * 0x9E3779B97F4A7C15ULL;
                for (Py_ssize_t j = 0; j < len_ && j < 64; j++)
                    word = (word ^ ((uint64_t)s[from + j] + 1)) * 1099511628211ULL;
            }
            h[k] = word;
        }
        Py_END_ALLOW_THREADS;
    }
    PyBuffer_Release(&block);
    PyBuffer_Release(&rows);
    PyBuffer_Release(&pos);
    PyBuffer_Release(&chrom);
    return PyLong_FromSsize_t(n);
}

/* info_values(offsets, data, keys, spans): where each key's value is in each INFO text.
 * Text i is data[offsets[i]:offsets[i + 1]] (offsets: n + 1 int64); keys: a tuple of bytes;
 * spans: int64 (len(keys), n, 2), filled by the caller with -1, gets the [start, end) of the
 * value of key k in text i: what follows "key=" up to the next ';', empty for a flag ("key"
 * alone), the last one where a key repeats, -1 where the key is absent. One pass over the text. */
static PyObject *info_values(PyObject *self, PyObject *args) {
    Py_buffer offsets, data, spans;
    PyObject *keys_obj;
    if (!PyArg_ParseTuple(args, "y*y*O!w*", &offsets, &data, &PyTuple_Type, &keys_obj, &spans))
        return NULL;
    Py_ssize_t n = offsets.len / 8 - 1, n_keys = PyTuple_GET_SIZE(keys_obj);
    const char **keys = NULL;
    Py_ssize_t *key_len = NULL;
    PyObject *result = NULL;
    if (n < 0 || spans.len / 8 < n_keys * n * 2) {
        PyErr_SetString(PyExc_ValueError, "info_values: spans must hold (len(keys), n, 2)");
        goto done;
    }
    keys = PyMem_Calloc(n_keys ? n_keys : 1, sizeof(char *));
    key_len = PyMem_Calloc(n_keys ? n_keys : 1, sizeof(Py_ssize_t));
    if (!keys || !key_len) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < n_keys; k++) {
        PyObject *key = PyTuple_GET_ITEM(keys_obj, k);
        if (!PyBytes_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "info_values: keys are bytes");
            goto done;
        }
        keys[k] = PyBytes_AS_STRING(key);
        key_len[k] = PyBytes_GET_SIZE(key);
    }
    const int64_t *off = offsets.buf;
    const char *s = data.buf;
    int64_t *out = spans.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < n && !bad; i++) {
        int64_t p = off[i], end = off[i + 1];
        if (p < 0 || end < p || end > data.len) {
            bad = 1;
            break;
        }
        while (p < end) {
            const char *semi = memchr(s + p, ';', (size_t)(end - p));
            int64_t q = semi ? semi - s : end;
            const char *eq = memchr(s + p, '=', (size_t)(q - p));
            int64_t key_end = eq ? eq - s : q;
            for (Py_ssize_t k = 0; k < n_keys; k++) {
                if (key_len[k] == key_end - p && memcmp(s + p, keys[k], (size_t)key_len[k]) == 0) {
                    int64_t *at = out + (k * n + i) * 2;
                    at[0] = eq ? key_end + 1 : q;
                    at[1] = q;
                    break;
                }
            }
            p = q + 1;
        }
    }
    Py_END_ALLOW_THREADS;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "info_values: offsets out of range");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(keys);
    PyMem_Free(key_len);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    PyBuffer_Release(&spans);
    return result;
}

static PyObject *tabix_records(PyObject *self, PyObject *args) {
    Py_buffer block, begs, ends, line_ends, run_starts, chrom_from, chrom_to;
    if (!PyArg_ParseTuple(args, "y*w*w*w*w*w*w*", &block, &begs, &ends, &line_ends, &run_starts,
                          &chrom_from, &chrom_to))
        return NULL;
    Py_ssize_t cap = begs.len / 8;
    if (ends.len / 8 < cap) cap = ends.len / 8;
    if (line_ends.len / 8 < cap) cap = line_ends.len / 8;
    if (run_starts.len / 8 < cap) cap = run_starts.len / 8;
    if (chrom_from.len / 8 < cap) cap = chrom_from.len / 8;
    if (chrom_to.len / 8 < cap) cap = chrom_to.len / 8;
    int64_t *b = begs.buf, *e = ends.buf, *le = line_ends.buf, *rs = run_starts.buf,
            *cf = chrom_from.buf, *ct = chrom_to.buf;
    const char *start = block.buf, *stop = start + block.len, *line = start;
    const char *chrom = NULL;
    size_t chrom_len = 0;
    Py_ssize_t n = 0, runs = 0, first = -1;
    int plain = 1;
    Py_BEGIN_ALLOW_THREADS;
    while (line < stop) {
        const char *nl = memchr(line, '\n', (size_t)(stop - line));
        if (!nl || memchr(line, 0, (size_t)(nl - line)) || (nl > line && nl[-1] == '\r')) {
            plain = 0;  /* not whole lines, a NUL (tabix stops there), or a CR tabix strips */
            break;
        }
        if (*line == '#') {
            line = nl + 1;
            continue;
        }
        /* The first eight columns' bounds (CHROM, POS, ID, REF, ALT, QUAL, FILTER, INFO). */
        const char *from[8], *to[8];
        int cols = 0;
        const char *at = line;
        while (cols < 8) {
            const char *tab = memchr(at, '\t', (size_t)(nl - at));
            from[cols] = at;
            to[cols] = tab ? tab : nl;
            cols++;
            if (!tab) break;
            at = tab + 1;
        }
        if (cols < 5 || n >= cap || to[0] == from[0] || to[3] == from[3] ||
            to[1] - from[1] < 1 || to[1] - from[1] > 18 || *from[1] == '0' ||
            memchr(from[4], '<', (size_t)(to[4] - from[4])) ||
            (cols == 8 && memmem(from[7], (size_t)(to[7] - from[7]), "END=", 4))) {
            plain = 0;
            break;
        }
        int64_t pos = 0;
        for (const char *d = from[1]; d < to[1]; d++) {
            unsigned digit = (unsigned)(unsigned char)*d - '0';
            if (digit > 9) {
                pos = -1;
                break;
            }
            pos = pos * 10 + digit;
        }
        if (pos < 1) {
            plain = 0;
            break;
        }
        size_t len = (size_t)(to[0] - from[0]);
        if (!chrom || len != chrom_len || memcmp(chrom, from[0], len) != 0) {
            chrom = from[0];
            chrom_len = len;
            rs[runs] = n;
            cf[runs] = from[0] - start;
            ct[runs] = to[0] - start;
            runs++;
        }
        if (first < 0) first = line - start;
        b[n] = pos - 1;
        e[n] = pos - 1 + (to[3] - from[3]);
        le[n] = nl + 1 - start;
        n++;
        line = nl + 1;
    }
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&block);
    PyBuffer_Release(&begs);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&line_ends);
    PyBuffer_Release(&run_starts);
    PyBuffer_Release(&chrom_from);
    PyBuffer_Release(&chrom_to);
    return Py_BuildValue("nnni", n, runs, first, plain);
}

typedef int (*IndexPush)(void *idx, int tid, int64_t beg, int64_t end, uint64_t offset,
                         int is_mapped);

static PyObject *push_records(PyObject *self, PyObject *args) {
    PyObject *push_address, *idx_address;
    Py_buffer tids, begs, ends, offsets;
    if (!PyArg_ParseTuple(args, "OOy*y*y*y*", &push_address, &idx_address, &tids, &begs, &ends,
                          &offsets))
        return NULL;
    IndexPush push = (IndexPush)PyLong_AsVoidPtr(push_address);
    void *idx = PyLong_AsVoidPtr(idx_address);
    Py_ssize_t n = tids.len / 4, refused = -1;
    if (begs.len / 8 < n) n = begs.len / 8;
    if (ends.len / 8 < n) n = ends.len / 8;
    if (offsets.len / 8 < n) n = offsets.len / 8;
    if (!PyErr_Occurred() && push && idx) {
        const int32_t *t = tids.buf;
        const int64_t *b = begs.buf, *e = ends.buf;
        const uint64_t *o = offsets.buf;
        Py_BEGIN_ALLOW_THREADS;
        for (Py_ssize_t i = 0; i < n; i++)
            if (push(idx, t[i], b[i], e[i], o[i], 1) < 0) {
                refused = i;
                break;
            }
        Py_END_ALLOW_THREADS;
    }
    PyBuffer_Release(&tids);
    PyBuffer_Release(&begs);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&offsets);
    if (PyErr_Occurred()) return NULL;
    if (!push || !idx) {
        PyErr_SetString(PyExc_ValueError, "push_records needs htslib's hts_idx_push and an index");
        return NULL;
    }
    return PyLong_FromSsize_t(refused);
}

static PyMethodDef methods[] = {
    {"info_values", info_values, METH_VARARGS,
     "info_values(offsets, data, keys, spans): each key's value span in each INFO text (see "
     "annotator/_lines.c)."},
    {"join_rows", join_rows, METH_VARARGS,
     "join_rows(ends, parts) -> (data, offsets): groups of rows, each row its parts."},
    {"split_lines", split_lines, METH_VARARGS,
     "split_lines(block, ncols, rows, pos, chrom) -> lines, or -1 for the general path (see "
     "annotator/_lines.c)."},
    {"join_lines", join_lines, METH_VARARGS,
     "join_lines(src, head_from, head_to, parts) -> bytes: each line's head from src, then one "
     "value of each part (see annotator/_lines.c)."},
    {"tabix_records", tabix_records, METH_VARARGS,
     "tabix_records(block, begs, ends, line_ends, run_starts, chrom_from, chrom_to) -> "
     "(records, runs, first, plain): each record's interval as tabix reads it (see "
     "annotator/_lines.c)."},
    {"push_records", push_records, METH_VARARGS,
     "push_records(push, idx, tids, begs, ends, offsets) -> -1 or the first refused row: "
     "htslib's hts_idx_push for each row."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "annotator._lines",
                                    "The annotator's compiled steps over a block's lines.",
                                    -1, methods};

PyMODINIT_FUNC PyInit__lines(void) { return PyModule_Create(&module); }
