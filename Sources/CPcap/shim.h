// libpcap's types and constants only. The library itself is loaded with dlopen when a capture
// is read (CeldaIngest/Capture/Pcap.swift), so a build runs where libpcap is absent as long as
// it reads no capture.
#include <pcap/pcap.h>

#include <stdio.h>
#include <sys/types.h>

// glibc's fopencookie (a GNU extension the Glibc module does not expose): lets libpcap read a
// capture from any byte stream (pipes, gzip). Same layout as cookie_io_functions_t.
struct celda_cookie_io {
    ssize_t (*read)(void *cookie, char *buffer, size_t size);
    ssize_t (*write)(void *cookie, const char *buffer, size_t size);
    int (*seek)(void *cookie, long long *offset, int whence);
    int (*close)(void *cookie);
};
extern FILE *celda_fopencookie(void *cookie, const char *mode, struct celda_cookie_io io) __asm__("fopencookie");

#if defined(__linux__)
#include <fcntl.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/// Tells glibc that one thread at a time uses `f`, so `fread` skips its lock (libpcap calls
/// `fread` twice a packet, and the lock is two atomic operations each time).
static inline void celda_file_unlocked(FILE *f) { (void)__fsetlocking(f, FSETLOCKING_BYCALLER); }

/// Bytes of the `FILE`'s buffer (it stays in the L2 cache).
#define CELDA_MAPPED_BUFFER ((size_t)64 << 10)

/// A read-only mapping of a capture file, read front to back by ``celda_open_mapped``'s `FILE`.
struct celda_mapped_file {
    const char *base;
    size_t size;
    size_t pos;
    size_t released;
    size_t page;
    /// The `FILE`'s buffer: libpcap's small reads (a 16-byte header, then the packet) are
    /// taken from it, and it is refilled by one copy from the mapping.
    char buffer[CELDA_MAPPED_BUFFER];
};

/// Bytes read between two releases of the pages already read.
#define CELDA_MAPPED_RELEASE ((size_t)8 << 20)

static ssize_t celda_mapped_read(void *cookie, char *buffer, size_t size) {
    struct celda_mapped_file *m = (struct celda_mapped_file *)cookie;
    size_t n = m->size - m->pos;
    if (n > size) n = size;
    memcpy(buffer, m->base + m->pos, n);
    m->pos += n;
    if (m->pos - m->released >= CELDA_MAPPED_RELEASE) {
        // Pages already read leave the process, so resident memory does not grow with the file.
        size_t end = m->pos & ~(m->page - 1);
        (void)madvise((void *)(m->base + m->released), end - m->released, MADV_DONTNEED);
        m->released = end;
    }
    return (ssize_t)n;
}

static int celda_mapped_close(void *cookie) {
    struct celda_mapped_file *m = (struct celda_mapped_file *)cookie;
    (void)munmap((void *)m->base, m->size);
    free(m);
    return 0;
}

/// A `FILE` reading the regular file at `path` from a read-only mapping: its buffer is refilled
/// by a copy out of the page cache, with no `read` system call. `NULL` when the file is not a
/// regular, non-empty file that maps; the caller then opens it as usual (and reports why it
/// cannot, if it cannot). As with the CSV path's mapping, a file cut short while it is read
/// ends the process (`SIGBUS`).
static inline FILE *celda_open_mapped(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return NULL;
    (void)madvise(p, size, MADV_SEQUENTIAL);
    struct celda_mapped_file *m = (struct celda_mapped_file *)calloc(1, sizeof *m);
    if (m == NULL) {
        (void)munmap(p, size);
        return NULL;
    }
    m->base = (const char *)p;
    m->size = size;
    long page = sysconf(_SC_PAGESIZE);
    m->page = page > 0 ? (size_t)page : 4096;
    struct celda_cookie_io io = {celda_mapped_read, NULL, NULL, celda_mapped_close};
    FILE *f = celda_fopencookie(m, "r", io);
    if (f == NULL) {
        celda_mapped_close(m);
        return NULL;
    }
    (void)setvbuf(f, m->buffer, _IOFBF, CELDA_MAPPED_BUFFER);
    celda_file_unlocked(f);
    return f;
}
#else
/// Elsewhere, `FILE`s keep their locks and captures are opened as usual.
static inline void celda_file_unlocked(FILE *f) { (void)f; }
static inline FILE *celda_open_mapped(const char *path) {
    (void)path;
    return NULL;
}
#endif
