/* .npz files: zip archives of .npy members. Reading uses the central
 * directory (ZIP64 included), stored and deflated members, CRC-32 checked,
 * and inflates straight into the array's buffer. Writing deflates each
 * member into a temporary file and renames it at commit (docs/formats.md). */
#include <errno.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "npy.h"

#define ZIP_LOCAL_SIG 0x04034b50u
#define ZIP_CENTRAL_SIG 0x02014b50u
#define ZIP_EOCD_SIG 0x06054b50u
#define ZIP64_EOCD_SIG 0x06064b50u
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define ZIP_U32_MAX 0xffffffffu

/* zlib level of written members: 1 (fastest). Float features barely
 * compress, and level 6 costs several times the time for a few percent
 * (docs/formats.md has the measurements). */
#define BW_NPZ_LEVEL 1

#define BW_IN_CHUNK (256u * 1024u)

uint64_t bw_npz_zip64_limit = ZIP_U32_MAX;

typedef struct zip_entry {
    char *name;
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, local_off;
} zip_entry;

typedef struct zip_dir {
    zip_entry *e;
    size_t n;
    uint64_t cd_offset; /* members' data lies before this */
} zip_dir;

static void zip_dir_free(zip_dir *d)
{
    for (size_t i = 0; i < d->n; i++) bw_free(d->e[i].name);
    bw_free(d->e);
    d->e = NULL;
    d->n = 0;
}

static barlow_status zfmt(const char *who, const char *path, const char *what)
{
    return bw_error(BARLOW_E_FORMAT, "%s: %s: not a valid .npz (zip) file: %s", who, path, what);
}

static barlow_status read_at(FILE *fp, uint64_t off, void *buf, size_t n, const char *who,
                             const char *path, const char *what)
{
    if (fseeko(fp, (off_t)off, SEEK_SET) != 0)
        return bw_error(BARLOW_E_IO, "%s: cannot seek in %s: %s", who, path, strerror(errno));
    size_t got = fread(buf, 1, n, fp);
    if (got < n) {
        if (ferror(fp))
            return bw_error(BARLOW_E_IO, "%s: cannot read %s: %s", who, path, strerror(errno));
        return zfmt(who, path, what);
    }
    return BARLOW_OK;
}

/* Reads the central directory (and the ZIP64 end records when present). */
static barlow_status zip_read_dir(FILE *fp, uint64_t fsize, const char *who, const char *path,
                                  zip_dir *dir)
{
    memset(dir, 0, sizeof *dir);
    if (fsize == 0) return bw_error(BARLOW_E_FORMAT, "%s: %s: file is empty", who, path);
    if (fsize < 22) return zfmt(who, path, "too short for a zip end record");
    size_t tail = fsize < 22 + 65535 ? (size_t)fsize : 22 + 65535;
    unsigned char *t = bw_malloc(tail, who);
    if (!t) return BARLOW_E_NOMEM;
    barlow_status st = read_at(fp, fsize - tail, t, tail, who, path, "truncated");
    if (st) {
        bw_free(t);
        return st;
    }
    size_t pos = SIZE_MAX;
    for (size_t i = tail - 22 + 1; i-- > 0;)
        if (bw_le32(t + i) == ZIP_EOCD_SIG && i + 22 + bw_le16(t + i + 20) <= tail) {
            pos = i;
            break;
        }
    if (pos == SIZE_MAX) {
        bw_free(t);
        return zfmt(who, path, "no end of central directory record");
    }
    uint64_t eocd = fsize - tail + pos;
    uint64_t entries = bw_le16(t + pos + 10);
    uint64_t cd_size = bw_le32(t + pos + 12);
    uint64_t cd_off = bw_le32(t + pos + 16);
    bw_free(t);
    if (eocd >= 20) {
        unsigned char loc[20];
        st = read_at(fp, eocd - 20, loc, 20, who, path, "truncated");
        if (st) return st;
        if (bw_le32(loc) == ZIP64_LOCATOR_SIG) {
            uint64_t z64 = bw_le64(loc + 8);
            unsigned char r[56];
            if (z64 > eocd - 20 || eocd - 20 - z64 < 56)
                return zfmt(who, path, "ZIP64 end record out of range");
            st = read_at(fp, z64, r, 56, who, path, "truncated ZIP64 end record");
            if (st) return st;
            if (bw_le32(r) != ZIP64_EOCD_SIG) return zfmt(who, path, "bad ZIP64 end record");
            entries = bw_le64(r + 32);
            cd_size = bw_le64(r + 40);
            cd_off = bw_le64(r + 48);
            eocd = z64;
        }
    }
    if (cd_off > eocd || cd_size > eocd - cd_off)
        return zfmt(who, path, "central directory out of range");
    if (entries > cd_size / 46) return zfmt(who, path, "central directory too short");
    unsigned char *cd = bw_malloc((size_t)cd_size, who);
    if (!cd) return BARLOW_E_NOMEM;
    st = read_at(fp, cd_off, cd, (size_t)cd_size, who, path, "truncated central directory");
    if (st) {
        bw_free(cd);
        return st;
    }
    dir->e = bw_calloc(entries ? (size_t)entries : 1, sizeof *dir->e, who);
    if (!dir->e) {
        bw_free(cd);
        return BARLOW_E_NOMEM;
    }
    dir->cd_offset = cd_off;
    size_t p = 0;
    for (uint64_t k = 0; k < entries; k++) {
        if (cd_size - p < 46 || bw_le32(cd + p) != ZIP_CENTRAL_SIG) {
            st = zfmt(who, path, "bad central directory entry");
            break;
        }
        const unsigned char *c = cd + p;
        zip_entry *e = &dir->e[dir->n];
        e->flags = bw_le16(c + 8);
        e->method = bw_le16(c + 10);
        e->crc = bw_le32(c + 16);
        e->csize = bw_le32(c + 20);
        e->usize = bw_le32(c + 24);
        size_t nlen = bw_le16(c + 28), xlen = bw_le16(c + 30), clen = bw_le16(c + 32);
        e->local_off = bw_le32(c + 42);
        if (cd_size - p - 46 < nlen + xlen + clen) {
            st = zfmt(who, path, "central directory entry overruns the directory");
            break;
        }
        e->name = bw_malloc(nlen + 1, who);
        if (!e->name) {
            st = BARLOW_E_NOMEM;
            break;
        }
        memcpy(e->name, c + 46, nlen);
        e->name[nlen] = '\0';
        dir->n++;
        /* ZIP64 extended information: only the fields whose 32-bit value is
         * 0xffffffff are present, in this order. */
        const unsigned char *x = c + 46 + nlen, *xend = x + xlen;
        while (xend - x >= 4) {
            uint16_t id = bw_le16(x), sz = bw_le16(x + 2);
            if ((size_t)(xend - x - 4) < sz) break;
            if (id == 0x0001) {
                const unsigned char *f = x + 4, *fend = f + sz;
                uint64_t *fields[3] = {&e->usize, &e->csize, &e->local_off};
                for (int i = 0; i < 3; i++) {
                    if (*fields[i] != ZIP_U32_MAX) continue;
                    if (fend - f < 8) {
                        st = zfmt(who, path, "short ZIP64 extra field");
                        break;
                    }
                    *fields[i] = bw_le64(f);
                    f += 8;
                }
            }
            x += 4 + sz;
        }
        if (st) break;
        p += 46 + nlen + xlen + clen;
    }
    bw_free(cd);
    if (st) zip_dir_free(dir);
    return st;
}

/* ---- member source --------------------------------------------------------- */

typedef struct member_src {
    bw_src base;
    FILE *fp;
    const zip_entry *e;
    uint64_t in_left;  /* compressed bytes not yet read from the file */
    uint64_t out_done; /* uncompressed bytes produced */
    uint32_t crc;
    bool inflating, ended;
    z_stream z;
    unsigned char *in;
} member_src;

static barlow_status member_fill(member_src *m)
{
    size_t n = m->in_left < BW_IN_CHUNK ? (size_t)m->in_left : BW_IN_CHUNK;
    size_t got = fread(m->in, 1, n, m->fp);
    if (got < n) {
        if (ferror(m->fp))
            return bw_error(BARLOW_E_IO, "%s: cannot read %s: %s", m->base.who, m->base.path,
                            strerror(errno));
        return bw_error(BARLOW_E_FORMAT, "%s: %s: the archive is truncated", m->base.who,
                        m->base.path);
    }
    m->in_left -= n;
    m->z.next_in = m->in;
    m->z.avail_in = (uInt)n;
    return BARLOW_OK;
}

static barlow_status member_read(bw_src *s, void *buf, size_t n, size_t *got)
{
    member_src *m = (member_src *)s;
    unsigned char *out = buf;
    size_t done = 0;
    if (!m->inflating) {
        uint64_t left = m->e->usize - m->out_done;
        size_t want = n < left ? n : (size_t)left;
        while (done < want) {
            size_t r = fread(out + done, 1, want - done, m->fp);
            if (r == 0) {
                if (ferror(m->fp))
                    return bw_error(BARLOW_E_IO, "%s: cannot read %s: %s", s->who, s->path,
                                    strerror(errno));
                return bw_error(BARLOW_E_FORMAT, "%s: %s: the archive is truncated", s->who,
                                s->path);
            }
            done += r;
        }
    } else {
        while (done < n && !m->ended) {
            if (m->z.avail_in == 0 && m->in_left > 0) {
                barlow_status st = member_fill(m);
                if (st) return st;
            }
            size_t want = n - done;
            if (want > (1u << 30)) want = 1u << 30;
            m->z.next_out = out + done;
            m->z.avail_out = (uInt)want;
            int ret = inflate(&m->z, Z_NO_FLUSH);
            done += want - m->z.avail_out;
            if (ret == Z_STREAM_END) {
                m->ended = true;
            } else if (ret == Z_BUF_ERROR && m->z.avail_in == 0 && m->in_left == 0) {
                return bw_error(BARLOW_E_FORMAT, "%s: %s: the deflate stream is truncated",
                                s->who, s->path);
            } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
                return bw_error(BARLOW_E_FORMAT, "%s: %s: corrupt deflate stream (%s)", s->who,
                                s->path, m->z.msg ? m->z.msg : "zlib error");
            }
        }
        if (m->ended && m->out_done + done != m->e->usize)
            return bw_error(BARLOW_E_FORMAT,
                            "%s: %s: corrupt deflate stream: it ends after %llu of the "
                            "member's %llu bytes", s->who, s->path,
                            (unsigned long long)(m->out_done + done),
                            (unsigned long long)m->e->usize);
    }
    for (size_t k = 0; k < done;) {
        size_t c = done - k > (1u << 30) ? (1u << 30) : done - k;
        m->crc = (uint32_t)crc32(m->crc, out + k, (uInt)c);
        k += c;
    }
    m->out_done += done;
    *got = done;
    return BARLOW_OK;
}

static barlow_status member_finish(bw_src *s)
{
    member_src *m = (member_src *)s;
    if (m->inflating && !m->ended) {
        unsigned char extra;
        size_t got;
        barlow_status st = member_read(s, &extra, 1, &got);
        if (st) return st;
        if (got)
            return bw_error(BARLOW_E_FORMAT,
                            "%s: %s: the member inflates to more than its %llu bytes", s->who,
                            s->path, (unsigned long long)m->e->usize);
        if (!m->ended)
            return bw_error(BARLOW_E_FORMAT, "%s: %s: the deflate stream is truncated", s->who,
                            s->path);
    }
    if (m->out_done != m->e->usize)
        return bw_error(BARLOW_E_FORMAT, "%s: %s: the member has %llu bytes, its entry says %llu",
                        s->who, s->path, (unsigned long long)m->out_done,
                        (unsigned long long)m->e->usize);
    if (m->crc != m->e->crc)
        return bw_error(BARLOW_E_FORMAT,
                        "%s: %s: CRC-32 mismatch (computed %08x, the archive says %08x)", s->who,
                        s->path, (unsigned)m->crc, (unsigned)m->e->crc);
    return BARLOW_OK;
}

static void member_close(member_src *m)
{
    if (m->inflating) inflateEnd(&m->z);
    bw_free(m->in);
    bw_free((char *)m->base.path);
}

/* Lists the archive's members ("'a', 'b'") for a message naming none. */
static barlow_status no_member(const zip_dir *dir, const char *path, const char *name,
                               const char *who)
{
    bw_sb sb;
    bw_sb_init(&sb);
    for (size_t i = 0; i < dir->n; i++) {
        const char *nm = dir->e[i].name;
        size_t l = strlen(nm);
        if (l > 4 && strcmp(nm + l - 4, ".npy") == 0) l -= 4;
        bw_sb_appendf(&sb, "%s'%.*s'", i ? ", " : "", (int)l, nm);
    }
    barlow_status st = bw_error(BARLOW_E_INVALID_ARG, "%s: %s has no member '%s' (members: %s)",
                                who, path, name, sb.failed || !sb.data ? "(none)" : sb.data);
    bw_sb_free(&sb);
    return st;
}

/* Finds member `name` (or "name.npy") in dir and checks its entry and local
 * header: *e is the entry, *data_off the file offset of its (compressed)
 * bytes, *mpath "path:member" for messages (bw_malloc'd, also on error when
 * the member was found). */
static barlow_status member_locate(FILE *fp, uint64_t fsize, const zip_dir *dir,
                                   const char *path, const char *name, const char *who,
                                   const zip_entry **ep, uint64_t *data_off, char **mpath)
{
    size_t nl = strlen(name);
    const zip_entry *e = NULL;
    for (size_t i = 0; i < dir->n && !e; i++)
        if (strcmp(dir->e[i].name, name) == 0) e = &dir->e[i];
    for (size_t i = 0; i < dir->n && !e; i++)
        if (strncmp(dir->e[i].name, name, nl) == 0 && strcmp(dir->e[i].name + nl, ".npy") == 0)
            e = &dir->e[i];
    if (!e) return no_member(dir, path, name, who);
    size_t plen = strlen(path) + strlen(e->name) + 2;
    char *mp = *mpath = bw_malloc(plen, who);
    if (!mp) return BARLOW_E_NOMEM;
    snprintf(mp, plen, "%s:%s", path, e->name);
    if (e->flags & 1)
        return bw_error(BARLOW_E_UNSUPPORTED, "%s: %s: encrypted members are not supported", who,
                        mp);
    if (e->method != 0 && e->method != 8)
        return bw_error(BARLOW_E_UNSUPPORTED,
                        "%s: %s: compression method %u is not supported (stored or deflated "
                        "only)", who, mp, (unsigned)e->method);
    unsigned char lh[30];
    if (e->local_off > fsize || fsize - e->local_off < 30)
        return zfmt(who, mp, "local header out of range");
    barlow_status st = read_at(fp, e->local_off, lh, 30, who, mp, "truncated local header");
    if (st) return st;
    if (bw_le32(lh) != ZIP_LOCAL_SIG) return zfmt(who, mp, "bad local header");
    uint64_t off = e->local_off + 30 + bw_le16(lh + 26) + bw_le16(lh + 28);
    if (off > dir->cd_offset || e->csize > dir->cd_offset - off)
        return zfmt(who, mp, "member data out of range");
    if (e->method == 0 && e->csize != e->usize)
        return zfmt(who, mp, "stored member with different sizes");
    /* deflate expands at most ~1032:1; a bigger claim is a lie (checked
     * before the header's size is trusted for an allocation). */
    if (e->method == 8 && e->usize / 1032 > e->csize + 64)
        return zfmt(who, mp, "member claims an impossible uncompressed size");
    *ep = e;
    *data_off = off;
    return BARLOW_OK;
}

barlow_status bw_npz_stored_member(FILE *fp, uint64_t fsize, const char *path, const char *name,
                                   const char *who, uint64_t *off, uint64_t *size)
{
    zip_dir dir;
    barlow_status st = zip_read_dir(fp, fsize, who, path, &dir);
    if (st) return st;
    const zip_entry *e = NULL;
    char *mpath = NULL;
    uint64_t data_off = 0;
    st = member_locate(fp, fsize, &dir, path, name, who, &e, &data_off, &mpath);
    if (st == BARLOW_OK && e->method != 0)
        st = bw_error(BARLOW_E_UNSUPPORTED,
                      "%s: %s is compressed and cannot be mapped (barlow extract --shard "
                      "stores it uncompressed)", who, mpath);
    if (st == BARLOW_OK) {
        *off = data_off;
        *size = e->usize;
    }
    bw_free(mpath);
    zip_dir_free(&dir);
    return st;
}

/* Opens an archive and finds member `name`; on success *m is ready to read. */
static barlow_status member_open(const char *path, const char *name, const char *who,
                                 FILE **fpp, zip_dir *dir, member_src *m)
{
    memset(m, 0, sizeof *m);
    FILE *fp = NULL;
    uint64_t fsize = 0;
    barlow_status st = bw_fopen_input(path, who, BW_NO_LIMIT, &fp, &fsize);
    if (st) return st;
    st = zip_read_dir(fp, fsize, who, path, dir);
    if (st) {
        fclose(fp);
        return st;
    }
    const zip_entry *e = NULL;
    char *mpath = NULL;
    uint64_t data_off = 0;
    st = member_locate(fp, fsize, dir, path, name, who, &e, &data_off, &mpath);
    m->base.path = mpath;
    if (st) goto fail;
    m->e = e;
    m->fp = fp;
    m->base.who = who;
    m->base.total = e->usize;
    m->base.read = member_read;
    m->base.finish = member_finish;
    if (fseeko(fp, (off_t)data_off, SEEK_SET) != 0) {
        st = bw_error(BARLOW_E_IO, "%s: cannot seek in %s: %s", who, path, strerror(errno));
        goto fail;
    }
    m->in_left = e->csize;
    m->crc = (uint32_t)crc32(0, Z_NULL, 0);
    if (e->method == 8) {
        m->in = bw_malloc(BW_IN_CHUNK, who);
        if (!m->in) {
            st = BARLOW_E_NOMEM;
            goto fail;
        }
        m->z.zalloc = bw_zalloc;
        m->z.zfree = bw_zfree;
        if (inflateInit2(&m->z, -15) != Z_OK) {
            st = bw_error(BARLOW_E_NOMEM, "%s: cannot start zlib inflate", who);
            goto fail;
        }
        m->inflating = true;
    }
    *fpp = fp;
    return BARLOW_OK;
fail:
    member_close(m);
    zip_dir_free(dir);
    fclose(fp);
    return st;
}

/* The two .npz member loaders: the argument checks, then one read. */
static barlow_status load_npz_member(const char *path, const char *name, bw_npy_as as,
                                     void *out, const char *who)
{
    bw_clear_error();
    if (!path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is NULL", who);
    if (!name) return bw_error(BARLOW_E_INVALID_ARG, "%s: name is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    FILE *fp = NULL;
    zip_dir dir;
    member_src m;
    barlow_status st = member_open(path, name, who, &fp, &dir, &m);
    if (st) return st;
    st = bw_npy_read(&m.base, as, out);
    member_close(&m);
    zip_dir_free(&dir);
    fclose(fp);
    return st;
}

barlow_status bw_npz_load_strings(const char *path, const char *name, bool optional,
                                  const char *who, char ***out, size_t *n)
{
    FILE *fp = NULL;
    zip_dir dir;
    member_src m;
    *out = NULL;
    *n = 0;
    barlow_status st = member_open(path, name, who, &fp, &dir, &m);
    /* member_open's only INVALID_ARG: the archive has no such member */
    if (st == BARLOW_E_INVALID_ARG && optional) {
        bw_clear_error();
        return BARLOW_OK;
    }
    if (st) return st;
    st = bw_npy_read_strings(&m.base, out, n);
    member_close(&m);
    zip_dir_free(&dir);
    fclose(fp);
    return st;
}

barlow_status barlow_array_load_npz(const char *path, const char *name, barlow_array **out)
{
    return load_npz_member(path, name, BW_NPY_AS_ARRAY, out, "barlow_array_load_npz");
}

barlow_status barlow_matrix_load_npz(const char *path, const char *name, barlow_matrix **out)
{
    return load_npz_member(path, name, BW_NPY_AS_MATRIX, out, "barlow_matrix_load_npz");
}

/* ---- writer ---------------------------------------------------------------- */

struct barlow_npz_writer {
    bw_atomic_file af;
    bool open;   /* the temporary file exists */
    bool broken; /* a failed add could not be undone */
    zip_entry *e;
    size_t n, cap;
    uint64_t offset; /* end of the last complete member */
};

/* DOS date 1980-01-01 00:00: archives are byte-identical run to run. */
#define ZIP_DOS_TIME 0
#define ZIP_DOS_DATE 0x0021

barlow_status barlow_npz_writer_open(const char *path, barlow_npz_writer **out)
{
    static const char who[] = "barlow_npz_writer_open";
    bw_clear_error();
    if (!path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    barlow_npz_writer *w = bw_calloc(1, sizeof *w, who);
    if (!w) return BARLOW_E_NOMEM;
    barlow_status st = bw_atomic_open(&w->af, path, who);
    if (st) {
        bw_free(w);
        return st;
    }
    w->open = true;
    *out = w;
    return BARLOW_OK;
}

static bool name_is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return false;
    return true;
}

/* Deflates header + data into fp; sets crc and csize. */
static barlow_status deflate_member(FILE *fp, const char *hdr, size_t hlen, const void *data,
                                    uint64_t bytes, uint32_t *crc, uint64_t *csize,
                                    const char *who, const char *path)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    z.zalloc = bw_zalloc;
    z.zfree = bw_zfree;
    if (deflateInit2(&z, BW_NPZ_LEVEL, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return bw_error(BARLOW_E_NOMEM, "%s: cannot start zlib deflate", who);
    size_t ocap = 256u * 1024u;
    unsigned char *obuf = bw_malloc(ocap, who);
    if (!obuf) {
        deflateEnd(&z);
        return BARLOW_E_NOMEM;
    }
    uint32_t c = (uint32_t)crc32(0, Z_NULL, 0);
    uint64_t out_total = 0;
    barlow_status st = BARLOW_OK;
    const unsigned char *parts[2] = {(const unsigned char *)hdr, data};
    uint64_t lens[2] = {hlen, bytes};
    for (int part = 0; part < 2 && !st; part++) {
        uint64_t left = lens[part];
        const unsigned char *p = parts[part];
        do {
            uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
            c = (uint32_t)crc32(c, p ? p : (const unsigned char *)"", chunk);
            z.next_in = (Bytef *)(uintptr_t)p;
            z.avail_in = chunk;
            left -= chunk;
            if (p) p += chunk;
            int flush = (part == 1 && left == 0) ? Z_FINISH : Z_NO_FLUSH;
            int ret;
            do {
                z.next_out = obuf;
                z.avail_out = (uInt)ocap;
                ret = deflate(&z, flush);
                size_t have = ocap - z.avail_out;
                if (have && fwrite(obuf, 1, have, fp) != have) {
                    st = bw_error(BARLOW_E_IO, "%s: writing %s failed: %s", who, path,
                                  strerror(errno));
                    break;
                }
                out_total += have;
            } while (z.avail_out == 0 || (flush == Z_FINISH && ret != Z_STREAM_END));
        } while (left > 0 && !st);
    }
    deflateEnd(&z);
    bw_free(obuf);
    if (!st) {
        *crc = c;
        *csize = out_total;
    }
    return st;
}

/* How a member is laid out: deflated (align_mod 0), or stored with its
 * array data starting at a file offset = align_rem (mod align_mod). */
typedef struct member_layout {
    uint64_t align_mod, align_rem;
} member_layout;

static barlow_status add_member(barlow_npz_writer *w, const char *name, const char *hdr,
                                size_t hlen, const void *data, uint64_t bytes,
                                member_layout lay, const char *who);

/* The checks of every add: a writer open and usable, a non-empty name. */
static barlow_status check_add(barlow_npz_writer *w, const char *name, const char *who)
{
    if (!w) return bw_error(BARLOW_E_INVALID_ARG, "%s: writer is NULL", who);
    if (!name) return bw_error(BARLOW_E_INVALID_ARG, "%s: name is NULL", who);
    if (!*name) return bw_error(BARLOW_E_INVALID_ARG, "%s: name is empty", who);
    if (!w->open)
        return bw_error(BARLOW_E_STATE, "%s: the archive is already committed", who);
    if (w->broken)
        return bw_error(BARLOW_E_STATE, "%s: %s: an earlier write failed", who, w->af.path);
    return BARLOW_OK;
}

barlow_status bw_npz_writer_add_strings(barlow_npz_writer *w, const char *name,
                                        const char *const *strs, size_t n, const char *who)
{
    barlow_status st = check_add(w, name, who);
    if (st) return st;
    if (n > 0 && !strs) return bw_error(BARLOW_E_INVALID_ARG, "%s: strings are NULL", who);
    size_t width = 0;
    unsigned char *data = NULL;
    uint64_t bytes = 0;
    st = bw_npy_encode_strings(strs, n, who, &width, &data, &bytes);
    if (st) return st;
    char descr[32], hdr[BW_NPY_HEADER_CAP];
    snprintf(descr, sizeof descr, "<U%zu", width);
    size_t hlen = bw_npy_format_header_descr(descr, false, 1, &n, hdr);
    st = add_member(w, name, hdr, hlen, data, bytes, (member_layout){0, 0}, who);
    bw_free(data);
    return st;
}

barlow_status barlow_npz_writer_add(barlow_npz_writer *w, const char *name, barlow_dtype dtype,
                                    size_t ndim, const size_t *shape, const void *data)
{
    static const char who[] = "barlow_npz_writer_add";
    bw_clear_error();
    barlow_status cst = check_add(w, name, who);
    if (cst) return cst;
    uint64_t bytes;
    barlow_status st = bw_npy_check_write(who, dtype, ndim, shape, data, &bytes);
    if (st) return st;
    char hdr[BW_NPY_HEADER_CAP];
    size_t hlen = bw_npy_format_header(dtype, false, ndim, shape, hdr);
    return add_member(w, name, hdr, hlen, data, bytes, (member_layout){0, 0}, who);
}

barlow_status bw_npz_writer_add_aligned(barlow_npz_writer *w, const char *name,
                                        barlow_dtype dtype, size_t ndim, const size_t *shape,
                                        const void *data, uint64_t align_mod,
                                        uint64_t align_rem, const char *who)
{
    barlow_status st = check_add(w, name, who);
    if (st) return st;
    uint64_t bytes;
    st = bw_npy_check_write(who, dtype, ndim, shape, data, &bytes);
    if (st) return st;
    if (align_mod == 0 || align_mod > 32768 || align_rem >= align_mod)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: alignment %llu mod %llu", who,
                        (unsigned long long)align_rem, (unsigned long long)align_mod);
    char hdr[BW_NPY_HEADER_CAP];
    size_t hlen = bw_npy_format_header(dtype, false, ndim, shape, hdr);
    return add_member(w, name, hdr, hlen, data, bytes, (member_layout){align_mod, align_rem},
                      who);
}

/* Writes header + data uncompressed into fp; sets crc. */
static barlow_status store_member(FILE *fp, const char *hdr, size_t hlen, const void *data,
                                  uint64_t bytes, uint32_t *crc, const char *who,
                                  const char *path)
{
    uint32_t c = (uint32_t)crc32(0, (const unsigned char *)hdr, (uInt)hlen);
    const unsigned char *p = data;
    for (uint64_t left = bytes; left > 0;) {
        uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        c = (uint32_t)crc32(c, p, chunk);
        p += chunk;
        left -= chunk;
    }
    if (fwrite(hdr, 1, hlen, fp) != hlen || (bytes && fwrite(data, 1, bytes, fp) != bytes))
        return bw_error(BARLOW_E_IO, "%s: writing %s failed: %s", who, path, strerror(errno));
    *crc = c;
    return BARLOW_OK;
}

/* Bytes of padding (an extra field of its own, so 0 or >= 4) that put the
 * array data of a stored member at align_rem mod align_mod, when the data
 * would otherwise start at `at`. */
static size_t pad_for(uint64_t at, member_layout lay)
{
    uint64_t pad = (lay.align_rem + lay.align_mod - at % lay.align_mod) % lay.align_mod;
    while (pad != 0 && pad < 4) pad += lay.align_mod;
    return (size_t)pad;
}

/* An extra field of `pad` bytes (0, or >= 4: id 0xd935, as zipalign
 * writes) that only moves the member's data. */
static bool write_padding(FILE *fp, size_t pad)
{
    if (pad == 0) return true;
    unsigned char h[4];
    bw_put16(h, 0xd935);
    bw_put16(h + 2, (uint16_t)(pad - 4));
    if (fwrite(h, 1, 4, fp) != 4) return false;
    for (size_t i = 4; i < pad; i++)
        if (putc(0, fp) == EOF) return false;
    return true;
}

/* Adds a member of the .npy header hdr (hlen bytes) and the data, laid out
 * as `lay` says. */
static barlow_status add_member(barlow_npz_writer *w, const char *name, const char *hdr,
                                size_t hlen, const void *data, uint64_t bytes,
                                member_layout lay, const char *who)
{
    barlow_status st = BARLOW_OK;
    if (!BW_HOST_LITTLE)
        return bw_error(BARLOW_E_UNSUPPORTED, "%s: big-endian hosts are not supported", who);
    size_t nl = strlen(name);
    bool has_ext = nl >= 4 && strcmp(name + nl - 4, ".npy") == 0;
    size_t full_len = nl + (has_ext ? 0 : 4);
    if (full_len > 60000)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: name is %zu bytes long (at most 60000)", who,
                        full_len);
    char *full = bw_malloc(full_len + 1, who);
    if (!full) return BARLOW_E_NOMEM;
    memcpy(full, name, nl);
    memcpy(full + nl, ".npy", has_ext ? 0 : 5);
    full[full_len] = '\0';
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, full) == 0) {
            bw_free(full);
            return bw_error(BARLOW_E_INVALID_ARG, "%s: member '%s' is already in the archive",
                            who, name);
        }
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 8;
        zip_entry *ne = bw_reallocn(w->e, nc, sizeof *ne, who);
        if (!ne) {
            bw_free(full);
            return bw_error(BARLOW_E_NOMEM, "%s: out of memory", who);
        }
        w->e = ne;
        w->cap = nc;
    }

    uint64_t usize = hlen + bytes;
    bool stored = lay.align_mod != 0;
    /* deflate's worst case is a little over the input; ZIP64 when a size or
     * the offset may not fit in 32 bits. */
    bool z64 = usize + usize / 1000 + 4096 >= bw_npz_zip64_limit ||
               w->offset >= bw_npz_zip64_limit;
    size_t pad = stored ? pad_for(w->offset + 30 + full_len + (z64 ? 20 : 0) + hlen, lay) : 0;
    unsigned char lh[30 + 20];
    bw_put32(lh, ZIP_LOCAL_SIG);
    bw_put16(lh + 4, z64 ? 45 : 20);
    bw_put16(lh + 6, name_is_ascii(full) ? 0 : 0x800);
    bw_put16(lh + 8, stored ? 0 : 8);
    bw_put16(lh + 10, ZIP_DOS_TIME);
    bw_put16(lh + 12, ZIP_DOS_DATE);
    bw_put32(lh + 14, 0);
    bw_put32(lh + 18, z64 ? ZIP_U32_MAX : 0);
    bw_put32(lh + 22, z64 ? ZIP_U32_MAX : 0);
    bw_put16(lh + 26, (uint16_t)full_len);
    bw_put16(lh + 28, (uint16_t)((z64 ? 20 : 0) + pad));
    bw_put16(lh + 30, 1);
    bw_put16(lh + 32, 16);
    bw_put64(lh + 34, usize);
    bw_put64(lh + 42, 0);
    FILE *fp = w->af.fp;
    uint64_t start = w->offset;
    uint32_t crc = 0;
    uint64_t csize = 0;
    bool ok = fwrite(lh, 1, 30, fp) == 30 && fwrite(full, 1, full_len, fp) == full_len &&
              (!z64 || fwrite(lh + 30, 1, 20, fp) == 20) && write_padding(fp, pad);
    if (!ok) st = bw_error(BARLOW_E_IO, "%s: writing %s failed: %s", who, w->af.path,
                           strerror(errno));
    if (!st && stored) {
        st = store_member(fp, hdr, hlen, data, bytes, &crc, who, w->af.path);
        csize = usize;
    } else if (!st) {
        st = deflate_member(fp, hdr, hlen, data, bytes, &crc, &csize, who, w->af.path);
    }
    if (!st && !z64 && csize >= ZIP_U32_MAX)
        st = bw_error(BARLOW_E_INTERNAL, "%s: compressed size exceeds the estimate", who);
    uint64_t end = start + 30 + full_len + (z64 ? 20 : 0) + pad + csize;
    if (!st) {
        /* patch the local header's CRC and sizes */
        unsigned char f[12];
        bw_put32(f, crc);
        bw_put32(f + 4, z64 ? ZIP_U32_MAX : (uint32_t)csize);
        bw_put32(f + 8, z64 ? ZIP_U32_MAX : (uint32_t)usize);
        bool pok = fseeko(fp, (off_t)(start + 14), SEEK_SET) == 0 && fwrite(f, 1, 12, fp) == 12;
        if (pok && z64) {
            unsigned char g[16];
            bw_put64(g, usize);
            bw_put64(g + 8, csize);
            pok = fseeko(fp, (off_t)(start + 30 + full_len + 4), SEEK_SET) == 0 &&
                  fwrite(g, 1, 16, fp) == 16;
        }
        pok = pok && fseeko(fp, (off_t)end, SEEK_SET) == 0;
        if (!pok)
            st = bw_error(BARLOW_E_IO, "%s: writing %s failed: %s", who, w->af.path,
                          strerror(errno));
    }
    if (st) {
        /* Undo the partial member so that the writer stays usable. */
        __fpurge(fp); /* drop what could not be written */
        clearerr(fp);
        if (ftruncate(w->af.fd, (off_t)start) != 0 || fseeko(fp, (off_t)start, SEEK_SET) != 0)
            w->broken = true;
        clearerr(fp);
        bw_free(full);
        return st;
    }
    zip_entry *e = &w->e[w->n++];
    e->name = full;
    e->flags = name_is_ascii(full) ? 0 : 0x800;
    e->method = stored ? 0 : 8;
    e->crc = crc;
    e->csize = csize;
    e->usize = usize;
    e->local_off = start;
    w->offset = end;
    return BARLOW_OK;
}

barlow_status barlow_npz_writer_commit(barlow_npz_writer *w)
{
    static const char who[] = "barlow_npz_writer_commit";
    bw_clear_error();
    if (!w) return bw_error(BARLOW_E_INVALID_ARG, "%s: writer is NULL", who);
    if (!w->open) return bw_error(BARLOW_E_STATE, "%s: the archive is already committed", who);
    if (w->broken) {
        barlow_status st = bw_error(BARLOW_E_STATE, "%s: %s: an earlier write failed", who,
                                    w->af.path);
        bw_atomic_abort(&w->af);
        w->open = false;
        return st;
    }
    FILE *fp = w->af.fp;
    uint64_t cd_off = w->offset, cd_size = 0;
    bool ok = true;
    for (size_t i = 0; i < w->n && ok; i++) {
        const zip_entry *e = &w->e[i];
        uint64_t lim = bw_npz_zip64_limit;
        bool zu = e->usize >= lim, zc = e->csize >= lim, zo = e->local_off >= lim;
        size_t nl = strlen(e->name);
        unsigned char c[46], x[28];
        size_t xl = 0;
        if (zu || zc || zo) {
            bw_put16(x, 1);
            xl = 4;
            if (zu) bw_put64(x + xl, e->usize), xl += 8;
            if (zc) bw_put64(x + xl, e->csize), xl += 8;
            if (zo) bw_put64(x + xl, e->local_off), xl += 8;
            bw_put16(x + 2, (uint16_t)(xl - 4));
        }
        bool z64 = xl > 0 || e->usize + e->usize / 1000 + 4096 >= lim;
        bw_put32(c, ZIP_CENTRAL_SIG);
        bw_put16(c + 4, (3 << 8) | 45); /* made by: Unix, spec 4.5 */
        bw_put16(c + 6, z64 ? 45 : 20);
        bw_put16(c + 8, e->flags);
        bw_put16(c + 10, e->method);
        bw_put16(c + 12, ZIP_DOS_TIME);
        bw_put16(c + 14, ZIP_DOS_DATE);
        bw_put32(c + 16, e->crc);
        bw_put32(c + 20, zc ? ZIP_U32_MAX : (uint32_t)e->csize);
        bw_put32(c + 24, zu ? ZIP_U32_MAX : (uint32_t)e->usize);
        bw_put16(c + 28, (uint16_t)nl);
        bw_put16(c + 30, (uint16_t)xl);
        bw_put16(c + 32, 0);
        bw_put16(c + 34, 0);
        bw_put16(c + 36, 0);
        bw_put32(c + 38, 0100644u << 16); /* regular file, rw-r--r-- */
        bw_put32(c + 42, zo ? ZIP_U32_MAX : (uint32_t)e->local_off);
        ok = fwrite(c, 1, 46, fp) == 46 && fwrite(e->name, 1, nl, fp) == nl &&
             fwrite(x, 1, xl, fp) == xl;
        cd_size += 46 + nl + xl;
    }
    uint64_t lim = bw_npz_zip64_limit;
    bool z64 = w->n >= 0xffff || w->n >= lim || cd_off >= lim || cd_size >= lim;
    if (ok && z64) {
        unsigned char r[56 + 20];
        bw_put32(r, ZIP64_EOCD_SIG);
        bw_put64(r + 4, 44);
        bw_put16(r + 12, (3 << 8) | 45);
        bw_put16(r + 14, 45);
        bw_put32(r + 16, 0);
        bw_put32(r + 20, 0);
        bw_put64(r + 24, w->n);
        bw_put64(r + 32, w->n);
        bw_put64(r + 40, cd_size);
        bw_put64(r + 48, cd_off);
        bw_put32(r + 56, ZIP64_LOCATOR_SIG);
        bw_put32(r + 60, 0);
        bw_put64(r + 64, cd_off + cd_size);
        bw_put32(r + 72, 1);
        ok = fwrite(r, 1, sizeof r, fp) == sizeof r;
    }
    if (ok) {
        unsigned char r[22];
        bw_put32(r, ZIP_EOCD_SIG);
        bw_put16(r + 4, 0);
        bw_put16(r + 6, 0);
        bw_put16(r + 8, z64 ? 0xffff : (uint16_t)w->n);
        bw_put16(r + 10, z64 ? 0xffff : (uint16_t)w->n);
        bw_put32(r + 12, z64 ? ZIP_U32_MAX : (uint32_t)cd_size);
        bw_put32(r + 16, z64 ? ZIP_U32_MAX : (uint32_t)cd_off);
        bw_put16(r + 20, 0);
        ok = fwrite(r, 1, 22, fp) == 22;
    }
    w->open = false;
    if (!ok) {
        int e = errno;
        barlow_status st = bw_error(BARLOW_E_IO, "%s: writing %s failed: %s", who, w->af.path,
                                    strerror(e));
        bw_atomic_abort(&w->af);
        return st;
    }
    return bw_atomic_commit(&w->af, who);
}

void barlow_npz_writer_free(barlow_npz_writer *w)
{
    if (!w) return;
    if (w->open) bw_atomic_abort(&w->af);
    for (size_t i = 0; i < w->n; i++) bw_free(w->e[i].name);
    bw_free(w->e);
    bw_free(w);
}
